// Stacks in a moto account for the setup/teardown tests: copies of the shipped env files pointing
// at a seeded hosted zone and instance, in a temporary folder.
import { copyFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { createSetupAws } from '../../src/aws/setup-api.js';
import { setEnvValue } from '../../src/config/env-writeback.js';
import { tempDir } from './tmp.js';

export interface StackFiles {
  cwd: string;
  operator: string;
  broker: string;
  zoneId: string;
  instanceId: string;
}

/** Both stacks share one account, one zone and (like upstream) one instance-less broker each. */
export async function seedAccount(): Promise<{ zoneId: string }> {
  const aws = createSetupAws({ region: 'us-east-1' });
  return { zoneId: await aws.createHostedZone('litentry.org') };
}

export async function stackFiles(zoneId: string, opts: { test: boolean; withInstance?: boolean; cwd?: string }): Promise<StackFiles> {
  const cwd = opts.cwd ?? tempDir();
  mkdirSync(path.join(cwd, 'env'), { recursive: true });
  const suffix = opts.test ? '.test' : '';
  const operator = path.join(cwd, 'env', `operator-workstation${suffix}.env`);
  const broker = path.join(cwd, 'env', `broker${suffix}.env`);
  copyFileSync(path.resolve('env', `operator-workstation${suffix}.env`), operator);
  copyFileSync(path.resolve('env', `broker${suffix}.env`), broker);
  await setEnvValue(operator, 'ACCOUNT_ID', '123456789012');
  await setEnvValue(operator, 'PARENT_ZONE_ID', zoneId);
  await setEnvValue(broker, 'ACCOUNT_ID', '123456789012');
  let instanceId = '';
  if (opts.withInstance !== false) {
    instanceId = await createSetupAws({ region: 'us-east-1' }).runInstance();
    await setEnvValue(broker, 'INSTANCE_ID', instanceId);
  }
  return { cwd, operator, broker, zoneId, instanceId };
}
