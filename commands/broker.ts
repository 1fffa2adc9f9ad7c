import { mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { readEnvFile } from '../src/config/env-file.js';
import { renderHostFiles } from '../src/broker/render.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { probeChecks } from '../src/broker/probe.js';
import { httpsProbe } from '../src/doctor/http.js';
import { runDoctor } from '../src/doctor/run.js';
import { readOnlySetupContext } from './setup.js';
import { writeFileAtomic } from '../src/sys/fs.js';
import { createContext, loadStackOf, type GlobalOptions, type StackFileOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';

export interface BrokerRenderOptions extends GlobalOptions, StackFileOptions {
  test?: boolean;
  out: string;
  binDir?: string;
  certDir?: string;
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
    ...(options.binDir ? { binDir: options.binDir } : {}),
    ...(options.certDir ? { certDir: options.certDir } : {}),
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
    probeChecks(stack),
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
