// The only execa import: child processes that take over the terminal (ssh).
import { constants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';

/** The path of an executable, by name on PATH or as given with a slash; undefined when there is none. */
export async function findExecutable(name: string, searchPath = process.env.PATH ?? ''): Promise<string | undefined> {
  const candidates = name.includes('/')
    ? [name]
    : searchPath
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, name));
  for (const file of candidates) {
    try {
      await fsp.access(file, constants.X_OK);
      if ((await fsp.stat(file)).isFile()) return file;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}

/**
 * Runs a program with the terminal handed over (stdin, stdout, stderr inherited), like `exec`,
 * and returns its exit code; a signal that ends it becomes 128 + signal number.
 */
export async function runInherited(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<number> {
  const result = await execa(file, args, { stdio: 'inherit', reject: false, ...(env ? { env, extendEnv: true } : {}) });
  if (result.exitCode !== undefined) return result.exitCode;
  return (
    128 +
    (result.signal
      ? (({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1, SIGKILL: 9 } as Record<string, number>)[result.signal] ?? 1)
      : 1)
  );
}

/** Runs a program quietly and reports only whether it exited 0 (probing an ssh control socket). */
export async function succeeds(file: string, args: readonly string[]): Promise<boolean> {
  const result = await execa(file, args, { stdio: 'ignore', reject: false, timeout: 5000 });
  return result.exitCode === 0;
}

/**
 * Runs an operator's shell command (a restart hook) with its output captured, never on our
 * stdout (which --json owns); the last lines come back for the error message.
 */
export async function runHook(
  command: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number; tail: string }> {
  const result = await execa('/bin/sh', ['-c', command], {
    env,
    extendEnv: true,
    reject: false,
    all: true,
    stdin: 'ignore',
    timeout: timeoutMs,
    maxBuffer: 1 << 20,
  });
  const tail = String(result.all ?? '')
    .trim()
    .split('\n')
    .slice(-5)
    .join(' | ');
  return { code: result.exitCode ?? (result.timedOut ? 124 : 1), tail };
}
