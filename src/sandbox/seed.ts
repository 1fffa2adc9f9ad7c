import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSetupAws } from '../aws/setup-api.js';
import { setEnvValue } from '../config/env-writeback.js';

export const SANDBOX_ACCOUNT = '123456789012';

export interface SandboxSeed {
  dir: string;
  operatorEnvFile: string;
  brokerEnvFile: string;
  zoneId: string;
  instanceId: string;
  adminArn: string;
}

function packageEnvDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return path.join(dir, 'env');
}

/**
 * What the flow expects to exist before setup, in a fresh moto account: the parent hosted zone,
 * the broker EC2 instance and the agentkeys-admin user whose key setup runs as; plus copies of the
 * shipped env files pointing at them, in a temporary folder (the real env/ files are never touched).
 */
export async function seedSandbox(test: boolean, region = 'us-east-1'): Promise<SandboxSeed> {
  const aws = createSetupAws({ region });
  const dir = mkdtempSync(path.join(tmpdir(), 'agentkeys-sandbox-'));
  mkdirSync(path.join(dir, 'env'));
  const suffix = test ? '.test' : '';
  const operatorEnvFile = path.join(dir, 'env', `operator-workstation${suffix}.env`);
  const brokerEnvFile = path.join(dir, 'env', `broker${suffix}.env`);
  copyFileSync(path.join(packageEnvDir(), `operator-workstation${suffix}.env`), operatorEnvFile);
  copyFileSync(path.join(packageEnvDir(), `broker${suffix}.env`), brokerEnvFile);
  const zoneId = await aws.createHostedZone('litentry.org');
  const instanceId = await aws.runInstance();
  await aws.createUser('agentkeys-admin');
  const key = await aws.createAccessKey('agentkeys-admin');
  process.env.AWS_ACCESS_KEY_ID = key.id;
  process.env.AWS_SECRET_ACCESS_KEY = key.secret;
  for (const [k, v] of [['ACCOUNT_ID', SANDBOX_ACCOUNT], ['PARENT_ZONE_ID', zoneId], ['REGION', region]] as const) await setEnvValue(operatorEnvFile, k, v);
  for (const [k, v] of [['ACCOUNT_ID', SANDBOX_ACCOUNT], ['INSTANCE_ID', instanceId]] as const) await setEnvValue(brokerEnvFile, k, v);
  return { dir, operatorEnvFile, brokerEnvFile, zoneId, instanceId, adminArn: `arn:aws:iam::${SANDBOX_ACCOUNT}:user/agentkeys-admin` };
}
