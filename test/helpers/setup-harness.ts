// Stacks in a moto account for the setup/teardown tests: the sandbox's own env-file writer,
// pointed at a hosted zone and (optionally) an instance seeded in the test's moto.
import { createSandboxAws } from '../../src/aws/sandbox-api.js';
import { writeStackEnvFiles } from '../../src/sandbox/seed.js';
import { tempDir } from './tmp.js';

export interface StackFiles {
  cwd: string;
  operator: string;
  broker: string;
  zoneId: string;
  instanceId: string;
}

/** Both stacks share one account and one zone. */
export async function seedAccount(): Promise<{ zoneId: string }> {
  return { zoneId: await createSandboxAws({ region: 'us-east-1' }).createHostedZone('litentry.org') };
}

export async function stackFiles(
  zoneId: string,
  opts: { test: boolean; withInstance?: boolean; cwd?: string },
): Promise<StackFiles> {
  const cwd = opts.cwd ?? tempDir();
  const instanceId = opts.withInstance === false ? '' : await createSandboxAws({ region: 'us-east-1' }).runInstance();
  const files = await writeStackEnvFiles(cwd, opts.test, { zoneId, ...(instanceId ? { instanceId } : {}) });
  return { cwd, operator: files.operatorEnvFile, broker: files.brokerEnvFile, zoneId, instanceId };
}
