// Step 10: every service enabled, running and answering /healthz on its loopback port. A service
// whose unit, env file or binary changed this run is restarted. Step 4 installs the binaries; a
// missing one blocks here with the path it should be at.
import { blocked, change, done, once, pending, waiting, type Change, type Step } from '../../steps/step.js';
import { shQuote } from '../../ssh/connection.js';
import { brokerRerun, type BrokerContext } from '../context.js';
import { hostRun } from '../host-files.js';
import type { HostService } from '../render.js';

interface ServiceFacts {
  service: HostService;
  binary: boolean;
  enabled: boolean;
  active: boolean;
  health: string;
}

const unit = (s: HostService) => `agentkeys-${s.name}.service`;
const healthUrl = (s: HostService) => `http://127.0.0.1:${s.port}/healthz`;
const curlHealth = (s: HostService) => `curl -s -o /dev/null -m 5 -w '%{http_code}' ${healthUrl(s)}`;

async function serviceFacts(ctx: BrokerContext): Promise<ServiceFacts[]> {
  const script = ctx.services
    .map(
      (s) =>
        `if [ -x ${shQuote(`${ctx.paths.binDir}/${s.binary}`)} ]; then b=yes; else b=no; fi\n` +
        `e=$(systemctl is-enabled ${unit(s)} 2>/dev/null || true)\n` +
        `a=$(systemctl is-active ${unit(s)} 2>/dev/null || true)\n` +
        `h=$(${curlHealth(s)} || true)\n` +
        `printf 'svc %s %s %s %s %s\\n' ${s.name} "$b" "\${e:-none}" "\${a:-none}" "\${h:-000}"`,
    )
    .join('\n');
  const lines = (await hostRun(ctx.shell, script, 'read the services')).stdout.split('\n');
  return ctx.services.map((service) => {
    const f = lines.find((l) => l.startsWith(`svc ${service.name} `))?.split(' ') ?? [];
    return {
      service,
      binary: f[2] === 'yes',
      enabled: f[3] === 'enabled',
      active: f[4] === 'active',
      health: f[5] ?? '',
    };
  });
}

export const services: Step<BrokerContext> = {
  num: 10,
  id: 'services',
  title: 'services enabled, running and healthy',
  pollable: true,
  async check(ctx) {
    const facts = await serviceFacts(ctx);
    const noBinary = facts.filter((f) => !f.binary);
    if (noBinary.length > 0)
      return blocked(
        `${noBinary.length} service binar${noBinary.length === 1 ? 'y is' : 'ies are'} not installed: ` +
          noBinary.map((f) => `${ctx.paths.binDir}/${f.service.binary}`).join(', '),
        `${brokerRerun(ctx, 'binaries')} --upload-bin DIR (or --build-ref COMMIT --repo URL), then ` +
          brokerRerun(ctx, 'services'),
      );
    const start = facts.filter((f) => !f.enabled || !f.active).map((f) => f.service);
    const restart = facts.filter((f) => f.active && ctx.state.restart.has(f.service.name)).map((f) => f.service);
    if (start.length + restart.length > 0) {
      const apply = once(() => startAndWait(ctx, start, restart));
      const changes: Change[] = [
        ...start.map((s) => change('activate', unit(s), apply, 'systemctl enable --now')),
        ...restart.map((s) => change('update', unit(s), apply, 'restart: its unit or broker.env changed')),
      ];
      return pending(changes);
    }
    const sick = facts.filter((f) => f.health !== '200');
    if (sick.length > 0)
      return waiting(
        sick.map((f) => `${f.service.name}: ${healthUrl(f.service)} answered ${f.health}`).join('; '),
        `journalctl -u ${unit(sick[0]!.service)} on the host (agentkeys ssh), then ${brokerRerun(ctx, 'services')}`,
      );
    return done(`${facts.length} service(s) enabled, active, /healthz 200`);
  },
};

/** Starts and restarts, then gives each service up to 20 s to answer /healthz before the re-check. */
async function startAndWait(ctx: BrokerContext, start: HostService[], restart: HostService[]): Promise<void> {
  const touched = [...start, ...restart];
  // A service started now reads the new files anyway: none of them needs a restart after.
  for (const s of touched) ctx.state.restart.delete(s.name);
  const script = [
    'set -e',
    ...(start.length > 0 ? [`systemctl enable --now ${start.map(unit).join(' ')}`] : []),
    ...(restart.length > 0 ? [`systemctl restart ${restart.map(unit).join(' ')}`] : []),
    ...touched.map(
      (s) => `i=0; while [ "$(${curlHealth(s)} || true)" != 200 ] && [ $i -lt 40 ]; do sleep 0.5; i=$((i+1)); done`,
    ),
  ].join('\n');
  await hostRun(ctx.shell, script, `start ${touched.map(unit).join(', ')}`);
}
