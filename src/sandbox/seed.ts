import { copyFileSync, mkdirSync, mkdtempSync, promises as fsp } from 'node:fs';
import { removeOnInterrupt } from '../sys/cleanup.js';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createSandboxAws } from '../aws/sandbox-api.js';
import { createSetupAws } from '../aws/setup-api.js';
import { setEnvValue } from '../config/env-writeback.js';
import { UsageError } from '../errors.js';
import { packageRoot, writeFileAtomic } from '../sys/fs.js';
import { errnoCode, messageOf } from '../sys/operator-file.js';
import { renderText } from '../sys/templates.js';

export const SANDBOX_ACCOUNT = '123456789012';

/** moto's own credentials: any key works until the seed has made the admin's. */
const MOTO_ROOT = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface SandboxSeed {
  dir: string;
  operatorEnvFile: string;
  brokerEnvFile: string;
  zoneId: string;
  instanceId: string;
  adminArn: string;
  /** The agentkeys-admin key setup runs as (moto's, for the local emulator only). */
  credentials: { accessKeyId: string; secretAccessKey: string };
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
export async function writeStackEnvFiles(
  dir: string,
  test: boolean,
  values: StackEnvValues,
): Promise<{ operatorEnvFile: string; brokerEnvFile: string }> {
  mkdirSync(path.join(dir, 'env'), { recursive: true });
  const suffix = test ? '.test' : '';
  const operatorEnvFile = path.join(dir, 'env', `operator-workstation${suffix}.env`);
  const brokerEnvFile = path.join(dir, 'env', `broker${suffix}.env`);
  copyFileSync(path.join(packageEnvDir(), `operator-workstation${suffix}.env`), operatorEnvFile);
  copyFileSync(path.join(packageEnvDir(), `broker${suffix}.env`), brokerEnvFile);
  for (const [k, v] of [
    ['ACCOUNT_ID', SANDBOX_ACCOUNT],
    ['PARENT_ZONE_ID', values.zoneId],
    ['REGION', values.region ?? 'us-east-1'],
  ] as const)
    await setEnvValue(operatorEnvFile, k, v);
  await setEnvValue(brokerEnvFile, 'ACCOUNT_ID', SANDBOX_ACCOUNT);
  if (values.instanceId) await setEnvValue(brokerEnvFile, 'INSTANCE_ID', values.instanceId);
  return { operatorEnvFile, brokerEnvFile };
}

/**
 * What the flow expects to exist before setup, in a fresh moto account: the parent hosted zone,
 * the broker EC2 instance and the agentkeys-admin user whose key setup runs as; plus copies of the
 * shipped env files pointing at them, in a temporary folder.
 */
export async function seedSandbox(
  test: boolean,
  endpoint: string,
  region = 'us-east-1',
  into?: string,
): Promise<SandboxSeed> {
  const aws = createSetupAws({ region, endpoint, credentials: MOTO_ROOT });
  const dir = into ?? mkdtempSync(path.join(tmpdir(), 'agentkeys-sandbox-'));
  if (!into) removeOnInterrupt(dir, 'the sandbox folder');
  const sandbox = createSandboxAws({ region, endpoint, credentials: MOTO_ROOT });
  const zoneId = await sandbox.createHostedZone('litentry.org');
  const instanceId = await sandbox.runInstance();
  await aws.createUser('agentkeys-admin');
  // As an operator's account would have it: the admin may do everything setup and doctor ask.
  await aws.putUserPolicy('agentkeys-admin', 'agentkeys-sandbox-admin', renderText('iam/sandbox-admin.json', {}));
  const key = await aws.createAccessKey('agentkeys-admin');
  const files = await writeStackEnvFiles(dir, test, { zoneId, instanceId, region });
  const credentials = { accessKeyId: key.id, secretAccessKey: key.secret };
  const seed = {
    dir,
    ...files,
    zoneId,
    instanceId,
    adminArn: `arn:aws:iam::${SANDBOX_ACCOUNT}:user/agentkeys-admin`,
    credentials,
  };
  // A kept sandbox (--keep DIR) is reopened from this record and moto's saved state; the key is
  // moto's, for the local emulator only, but is still written 0600.
  await writeFileAtomic(path.join(dir, SEED_RECORD), `${JSON.stringify(seed, null, 2)}\n`, { mode: 0o600 });
  return seed;
}

const SEED_RECORD = 'sandbox.json';

/** The seed of a kept sandbox folder, with the admin's moto credentials. */
export async function reopenSandbox(dir: string): Promise<SandboxSeed | undefined> {
  let record: SandboxSeed;
  try {
    record = JSON.parse(await fsp.readFile(path.join(dir, SEED_RECORD), 'utf8'));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new UsageError({
      code: 'SANDBOX_STATE_INVALID',
      message: `${path.join(dir, SEED_RECORD)} is unreadable: ${messageOf(err)}`,
      hint: 'remove the folder to start a fresh sandbox',
      cause: err,
    });
  }
  if (typeof record.credentials?.accessKeyId !== 'string' || typeof record.credentials.secretAccessKey !== 'string') {
    throw new UsageError({
      code: 'SANDBOX_STATE_INVALID',
      message: `${path.join(dir, SEED_RECORD)} holds no admin credentials (made by an older agentkeys?)`,
      hint: 'remove the folder to start a fresh sandbox',
    });
  }
  return record;
}
