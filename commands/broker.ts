import { mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { readEnvFile } from '../src/config/env-file.js';
import { brokerServices, renderHostFiles } from '../src/broker/render.js';
import { releaseOf } from '../src/broker/release.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { probeChecks } from '../src/broker/probe.js';
import { httpsProbe } from '../src/doctor/http.js';
import { runDoctor } from '../src/doctor/run.js';
import { readOnlySetupContext, stackSignersPath } from '../src/context.js';
import { writeFileAtomic } from '../src/sys/fs.js';
import { createContext, loadStackOf, type GlobalOptions, type StackFileOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';
import { parseWholeNumber } from './options.js';
import { openBrokerSsh } from '../src/ssh/broker-ssh.js';
import { printStepOutcome } from './ui/step-outcome.js';
import { printStackBanner, runStepCommand } from './step-command.js';
import { brokerContext, readHostCopies } from '../src/broker/context.js';
import { eipProblem, refuseFailedPreflight } from '../src/setup/preflight.js';
import { dohResolver } from '../src/broker/dns.js';
import { BROKER_STEPS } from '../src/broker/steps/index.js';
import { selectSteps } from '../src/steps/runner.js';
import { sshShell, type HostShell } from '../src/ssh/connection.js';

export interface BrokerRenderOptions extends GlobalOptions, StackFileOptions {
  test?: boolean;
  out: string;
  agentkeysBin?: string;
  binDir?: string;
  certDir?: string;
  portBase?: string;
}

/**
 * `agentkeys broker render --out DIR`: every file the broker host needs, under DIR as on the host
 * (DIR/etc/systemd/system/…). Files whose content is unchanged are not rewritten, so a second run
 * reports 0 written; each file is written atomically, broker.env with mode 0600.
 */
export async function runBrokerRender(options: BrokerRenderOptions): Promise<ExitCode> {
  const cmd = await createContext({ ...options });
  const stack = await loadStackOf(options);
  const brokerEnv = await readEnvFile(stack.brokerEnvFile, {}, '--broker-env-file');
  const files = renderHostFiles(stack, brokerEnv, {
    copies: await readHostCopies(stack, stackSignersPath(stack, cmd.config.dir)),
    ...(options.agentkeysBin ? { agentkeysBin: options.agentkeysBin } : {}),
    ...(options.binDir ? { binDir: options.binDir } : {}),
    ...(options.certDir ? { certDir: options.certDir } : {}),
    ...(options.portBase ? { portBase: portBase(options.portBase) } : {}),
  });
  const results: { path: string; written: boolean }[] = [];
  for (const f of files) {
    const target = path.join(options.out, f.path);
    const current = await readFile(target, 'utf8').catch(() => undefined);
    const written = current !== f.content;
    if (written) {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFileAtomic(target, f.content, { mode: f.mode });
    }
    results.push({ path: f.path, written });
  }
  const count = results.filter((r) => r.written).length;
  if (cmd.out.json) printJson({ ok: true, stack: stack.name, out: options.out, files: results });
  else {
    for (const r of results) printLine(`${r.written ? style.ok('✔ wrote') : style.dim('= same ')} ${r.path}`);
    printLine(`${count} of ${results.length} file(s) written to ${options.out} (${stack.name} stack)`);
  }
  return 0;
}

export interface BrokerProbeOptions extends GlobalOptions, StackFileOptions {
  test?: boolean;
  connectTo?: string;
  certDir?: string;
}

/**
 * `agentkeys broker probe`: read-only, from the laptop. `--connect-to ADDR:PORT` reaches every
 * hostname at one address (before DNS points at the host, or through a tunnel); names, SNI and
 * certificate checks stay the hostnames'. Exit 0 when every check passes, 1 otherwise.
 */
export async function runBrokerProbe(options: BrokerProbeOptions): Promise<ExitCode> {
  const cmd = await createContext({ ...options });
  const stack = await loadStackOf(options);
  const setup = await readOnlySetupContext(stack, cmd.config);
  const connectTo = options.connectTo ? parseConnectTo(options.connectTo) : undefined;
  const report = await runDoctor(
    { setup, config: cmd.config, http: httpsProbe(connectTo), now: new Date() },
    probeChecks(stack, options.certDir),
  );
  if (cmd.out.json) printJson({ ok: report.healthy, healthy: report.healthy, checks: report.checks });
  else {
    for (const r of report.checks) {
      const mark = r.status === 'ok' ? style.ok('✔') : r.status === 'warn' ? style.warn('!') : style.bad('✖');
      printLine(`${mark} ${r.id.padEnd(20)} ${r.detail}`);
      if (r.fix && r.status !== 'ok') printLine(`    ${style.dim('fix:')} ${r.fix}`);
    }
  }
  return report.healthy ? 0 : 1;
}

function parseConnectTo(value: string): { host: string; port: number } {
  const m = /^([^:]+):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--connect-to "${value}" is not ADDRESS:PORT`,
      hint: '--connect-to 203.0.113.7:443',
    });
  return { host: m[1]!, port: Number(m[2]) };
}

const portBase = (value: string) => parseWholeNumber(value, '--port-base', { min: 1024, max: 65_500 });

export interface BrokerSetupOptions extends GlobalOptions, StackFileOptions {
  skipPreflight?: boolean;
  test?: boolean;
  onlyStep?: string;
  fromStep?: string;
  toStep?: string;
  plan?: boolean;
  fallback?: boolean;
  pem?: string;
  osUser?: string;
  awsProfile?: string;
  email?: string;
  dohUrl?: string;
  wait?: string;
  strict?: boolean;
  showSecret?: boolean;
  hostRoot?: string;
  binDir?: string;
  portBase?: string;
  uploadBin?: string;
  buildRef?: string;
  repo?: string;
  buildCommand?: string;
  buildOut?: string;
}

/**
 * `agentkeys broker setup`: the broker host's numbered steps over one multiplexed SSH connection,
 * with setup's contract: each step checked read-only first, applied, checked again; --plan
 * changes nothing and exits 4 when something would change; a receipt after every step.
 */
export async function runBrokerSetup(options: BrokerSetupOptions): Promise<ExitCode> {
  const cmd = await createContext({ ...options });
  const steps = selectSteps(BROKER_STEPS, {
    ...(options.onlyStep ? { onlyStep: options.onlyStep } : {}),
    ...(options.fromStep ? { fromStep: options.fromStep } : {}),
    ...(options.toStep ? { toStep: options.toStep } : {}),
  });
  const waitSeconds = options.wait === undefined ? 0 : parseWholeNumber(options.wait, '--wait');
  const ports = options.portBase ? portBase(options.portBase) : undefined;
  if (options.hostRoot !== undefined && !path.posix.isAbsolute(options.hostRoot))
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--host-root "${options.hostRoot}" is not an absolute path on the host`,
      hint: '--host-root /srv/staging',
    });
  if (options.dohUrl !== undefined && !/^https:\/\/[^/\s]+/.test(options.dohUrl))
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--doh-url "${options.dohUrl}" is not an https URL`,
      hint: '--doh-url https://cloudflare-dns.com/dns-query (JSON answers), or leave the default',
    });
  const stack = await loadStackOf(options);
  const brokerEnv = await readEnvFile(stack.brokerEnvFile, {}, '--broker-env-file');
  if (!options.skipPreflight) refuseFailedPreflight(eipProblem(stack.brokerEnvFile, brokerEnv.EIP));
  const release = await releaseOf(options, brokerServices(stack, ports));
  const conn = await openBrokerSsh(cmd.config, {
    ...options,
    brokerEnvFile: stack.brokerEnvFile,
    stack: stack.name === 'test' ? 'test' : 'prod',
  });
  const shell = countingShell(sshShell(conn));
  printStackBanner(
    cmd,
    'broker setup',
    stack.name,
    `${shell.describe} (${conn.plan.reason})${options.plan ? ' (plan: nothing is changed)' : ''}`,
  );
  const ctx = brokerContext({
    stack,
    shell,
    brokerEnv,
    copies: await readHostCopies(stack, stackSignersPath(stack, cmd.config.dir)),
    resolveA: dohResolver(options.dohUrl),
    ...(options.hostRoot ? { root: options.hostRoot } : {}),
    ...(options.binDir ? { binDir: options.binDir } : {}),
    ...(ports ? { portBase: ports } : {}),
    ...(options.email ? { acmeEmail: options.email } : {}),
    ...(release ? { release } : {}),
    localDir: path.join(cmd.config.dir, 'broker'),
    showSecret: options.showSecret === true,
  });
  const started = Date.now();
  try {
    const { records, exitCode } = await runStepCommand(cmd, ctx, steps, {
      plan: options.plan === true,
      verify: false,
      strict: options.strict === true,
      waitSeconds,
      receiptFile: path.join(cmd.config.dir, 'broker', `${stack.name}.receipt.json`),
      prefetch: false,
    });
    const summary = { wallMs: Date.now() - started, roundTrips: shell.count() };
    if (cmd.out.json)
      printJson({
        ok: !records.some((r) => r.status === 'failed' || r.status === 'blocked'),
        stack: stack.name,
        host: shell.describe,
        plan: options.plan === true,
        steps: records,
        sshRoundTrips: summary.roundTrips,
        wallMs: summary.wallMs,
      });
    else printStepOutcome(records, options.plan === true, `${summary.roundTrips} SSH round trip(s)`, summary.wallMs);
    return exitCode;
  } finally {
    conn.close();
  }
}

/** Counts the scripts sent to the host: the cost of a run, said in the summary line. */
function countingShell(shell: HostShell): HostShell & { count(): number } {
  let n = 0;
  return { describe: shell.describe, run: (script) => (n++, shell.run(script)), count: () => n };
}
