// Step 11: the scheduled proofs on (issue 27): every watch timer enabled and active, so tamper
// detection, rotation and the probes never depend on someone remembering. Step 3 wrote the units;
// they run the agentkeys CLI on the host, which must be there first.
import { blocked, change, done, once, pending, type Step } from '../../steps/step.js';
import { shQuote } from '../../ssh/connection.js';
import { brokerRerun, type BrokerContext } from '../context.js';
import { hostRun } from '../host-files.js';
import { WATCH_IDS } from '../watch.js';

const timer = (id: string) => `agentkeys-watch-${id}.timer`;

export const watchTimers: Step<BrokerContext> = {
  num: 11,
  id: 'watch',
  title: 'scheduled proofs: verify, rotation, probe and doctor timers, alerts on failure',
  async check(ctx) {
    const script = [
      `if [ -x ${shQuote(ctx.watch.agentkeysBin)} ]; then echo bin yes; else echo bin no; fi`,
      ...WATCH_IDS.map(
        (id) =>
          `printf 'timer %s %s %s\\n' ${id} "$(systemctl is-enabled ${timer(id)} 2>/dev/null || true)" ` +
          `"$(systemctl is-active ${timer(id)} 2>/dev/null || true)"`,
      ),
    ].join('\n');
    const lines = (await hostRun(ctx.shell, script, 'read the watch timers')).stdout.split('\n');
    if (!lines.includes('bin yes'))
      return blocked(
        `the agentkeys CLI is not at ${ctx.watch.agentkeysBin} on the host (the watches run it)`,
        'install it there (npm install -g agentkeys), or set AGENTKEYS_BIN in the broker env file, then ' +
          brokerRerun(ctx, 'watch'),
      );
    const off = WATCH_IDS.filter((id) => !lines.includes(`timer ${id} enabled active`));
    if (off.length === 0) return done(`${WATCH_IDS.length} timers enabled and active; failures go to ${alertOf(ctx)}`);
    const enable = once(async () => {
      await hostRun(ctx.shell, `systemctl enable --now ${off.map(timer).join(' ')}`, 'enable the watch timers');
    });
    return pending(off.map((id) => change('activate', timer(id), enable, 'systemctl enable --now')));
  },
};

/** The alert target for the summary; a webhook by its origin only (its path may hold a token). */
const alertOf = (ctx: BrokerContext) => ctx.watch.alertTarget.replace(/^webhook:(https?:\/\/[^/]+).*/, 'webhook:$1/…');
