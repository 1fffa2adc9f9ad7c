import { copyFileSync, mkdirSync, mkdtempSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createSandboxAws } from '../aws/sandbox-api.js';
import { createSetupAws } from '../aws/setup-api.js';
import { setEnvValue } from '../config/env-writeback.js';
import { UsageError } from '../errors.js';
import { packageRoot, writeFileAtomic } from '../sys/fs.js';

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
  return path.join(packageRoot(import.meta.url), 'env');
}

export interface StackEnvValues {
  zoneId: string;
  instanceId?: string;
  region?: string;
}

/**
 * Copies the shipped env files of one stack into dir/env, pointed at a seeded account (its
 * account id, hosted zone and instance). The real env/ files are never touched.
 */
export async function writeStackEnvFiles(dir: string, test: boolean, values: StackEnvValues): Promise<{ operatorEnvFile: string; brokerEnvFile: string }> {
  mkdirSync(path.join(dir, 'env'), { recursive: true });
  const suffix = test ? '.test' : '';
  const operatorEnvFile = path.join(dir, 'env', `operator-workstation${suffix}.env`);
  const brokerEnvFile = path.join(dir, 'env', `broker${suffix}.env`);
  copyFileSync(path.join(packageEnvDir(), `operator-workstation${suffix}.env`), operatorEnvFile);
  copyFileSync(path.join(packageEnvDir(), `broker${suffix}.env`), brokerEnvFile);
  for (const [k, v] of [['ACCOUNT_ID', SANDBOX_ACCOUNT], ['PARENT_ZONE_ID', values.zoneId], ['REGION', values.region ?? 'us-east-1']] as const) await setEnvValue(operatorEnvFile, k, v);
  await setEnvValue(brokerEnvFile, 'ACCOUNT_ID', SANDBOX_ACCOUNT);
  if (values.instanceId) await setEnvValue(brokerEnvFile, 'INSTANCE_ID', values.instanceId);
  return { operatorEnvFile, brokerEnvFile };
}

/**
 * What the flow expects to exist before setup, in a fresh moto account: the parent hosted zone,
 * the broker EC2 instance and the agentkeys-admin user whose key setup runs as; plus copies of the
 * shipped env files pointing at them, in a temporary folder.
 */
export async function seedSandbox(test: boolean, region = 'us-east-1', into?: string): Promise<SandboxSeed> {
  const aws = createSetupAws({ region });
  const dir = into ?? mkdtempSync(path.join(tmpdir(), 'agentkeys-sandbox-'));
  const sandbox = createSandboxAws({ region });
  const zoneId = await sandbox.createHostedZone('litentry.org');
  const instanceId = await sandbox.runInstance();
  await aws.createUser('agentkeys-admin');
  const key = await aws.createAccessKey('agentkeys-admin');
  process.env.AWS_ACCESS_KEY_ID = key.id;
  process.env.AWS_SECRET_ACCESS_KEY = key.secret;
  const files = await writeStackEnvFiles(dir, test, { zoneId, instanceId, region });
  const seed = { dir, ...files, zoneId, instanceId, adminArn: `arn:aws:iam::${SANDBOX_ACCOUNT}:user/agentkeys-admin` };
  // A kept sandbox (--keep DIR) is reopened from this record and moto's saved state; the key is
  // moto's, for the local emulator only, but is still written 0600.
  await writeFileAtomic(path.join(dir, SEED_RECORD), `${JSON.stringify({ ...seed, accessKeyId: key.id, secretAccessKey: key.secret }, null, 2)}\n`, { mode: 0o600 });
  return seed;
}

const SEED_RECORD = 'sandbox.json';

/** The seed of a kept sandbox folder, with the admin's moto credentials put back in the environment. */
export async function reopenSandbox(dir: string): Promise<SandboxSeed | undefined> {
  let record: SandboxSeed & { accessKeyId: string; secretAccessKey: string };
  try {
    record = JSON.parse(await fsp.readFile(path.join(dir, SEED_RECORD), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError({ code: 'SANDBOX_STATE_INVALID', message: `${path.join(dir, SEED_RECORD)} is unreadable: ${(err as Error).message}`, hint: 'remove the folder to start a fresh sandbox', cause: err });
  }
  process.env.AWS_ACCESS_KEY_ID = record.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = record.secretAccessKey;
  const { accessKeyId: _a, secretAccessKey: _s, ...seed } = record;
  return seed;
}
