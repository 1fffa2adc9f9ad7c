import type { ExitCode } from '../src/errors.js';
import { createContext, loadStackOf } from './context.js';
import { refuseKeepWithoutSandbox } from './options.js';
import { style } from './ui/format.js';
import { runTeardownFor, type TeardownCommandOptions } from './teardown-run.js';

export type { TeardownCommandOptions };

/** `agentkeys teardown`: what setup created for one stack, deleted in reverse (--sandbox: commands/sandbox.ts). */
export async function runTeardown(options: TeardownCommandOptions): Promise<ExitCode> {
  refuseKeepWithoutSandbox('teardown', options);
  if (options.stackEnvDeprecated) process.stderr.write(style.warn(`! ${options.stackEnvDeprecated}\n`));
  const cmd = await createContext({ ...options });
  const stack = await loadStackOf(options);
  return runTeardownFor(cmd, stack, options);
}
