import * as path from 'node:path';
import type { ExitCode } from '../src/errors.js';
import { assertMotoInstalled, startMoto } from '../src/sandbox/moto.js';
import { seedSandbox } from '../src/sandbox/seed.js';
import { loadStack } from '../src/setup/stack.js';
import { createContext } from './context.js';
import { runSetupFor, type SetupOptions } from './setup.js';
import { printLine, style } from './ui/format.js';

/**
 * `agentkeys setup --sandbox`: the whole flow against a moto started on loopback by the CLI, with
 * the hosted zone and instance the flow expects seeded first, so a new operator can watch a full
 * provisioning with no AWS account. Nothing outside a temporary folder is written.
 */
export async function runSandbox(options: SetupOptions): Promise<ExitCode> {
  assertMotoInstalled();
  const moto = await startMoto();
  try {
    Object.assign(process.env, moto.env);
    delete process.env.AWS_PROFILE;
    const test = options.test !== false;
    const seed = await seedSandbox(test);
    const dir = path.join(seed.dir, '.agentkeys');
    const cmd = await createContext({ ...options, envFile: undefined, dir, profile: undefined, roleArn: undefined });
    if (!cmd.out.json) {
      printLine(style.dim(`sandbox: moto on ${moto.endpoint}; hosted zone litentry.org (${seed.zoneId}); instance ${seed.instanceId}; caller ${seed.adminArn}`));
      printLine(style.dim(`sandbox: env files and state in ${seed.dir}`));
    }
    const stack = await loadStack({ test, envDir: path.join(seed.dir, 'env'), baseEnv: {} });
    const noBroker = async (): Promise<never> => {
      throw new Error('the sandbox has no broker host serving TLS');
    };
    return await runSetupFor(cmd, stack, { ...options, yes: true, showSecret: false }, { fetchJson: noBroker });
  } finally {
    await moto.stop();
  }
}
