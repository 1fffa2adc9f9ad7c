import type { ExitCode } from '../src/errors.js';
import { createContext, loadStackOf } from './context.js';
import { checkSetupFlags, runSetupFor, type SetupOptions } from './setup-run.js';
import { style } from './ui/format.js';

export type { SetupOptions };

/** `agentkeys setup`: the stack's numbered steps against its AWS account (--sandbox is commands/sandbox.ts). */
export async function runSetup(options: SetupOptions): Promise<ExitCode> {
  checkSetupFlags(options);
  if (options.stackEnvDeprecated) process.stderr.write(style.warn(`! ${options.stackEnvDeprecated}\n`));
  const cmd = await createContext({ ...options });
  const stack = await loadStackOf(options);
  return runSetupFor(cmd, stack, options);
}
