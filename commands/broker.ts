import { mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { readEnvFile } from '../src/config/env-file.js';
import { renderHostFiles } from '../src/broker/render.js';
import type { ExitCode } from '../src/errors.js';
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
