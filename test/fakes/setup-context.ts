// A SetupContext over a fake account and a stack written by the sandbox's own env-file writer:
// what the step-contract suite runs every step against, in-process.
import * as path from 'node:path';
import { writeStackEnvFiles } from '../../src/sandbox/seed.js';
import { setEnvValue } from '../../src/config/env-writeback.js';
import { loadStack } from '../../src/config/stack.js';
import type { SetupContext } from '../../src/setup/step.js';
import { tempDir } from '../helpers/tmp.js';
import { createFakeAccount, type FakeAccount } from './account.js';

export interface FakeSetup {
  account: FakeAccount;
  dir: string;
  /** A fresh context: the env files are re-read, as each CLI run does. */
  context(): Promise<SetupContext>;
}

export async function fakeSetup(opts: { evmSigner?: boolean } = {}): Promise<FakeSetup> {
  const account = createFakeAccount();
  const dir = tempDir();
  const zoneId = account.addZone('litentry.org');
  const instanceId = account.addInstance();
  const files = await writeStackEnvFiles(dir, true, { zoneId, instanceId });
  if (opts.evmSigner) await setEnvValue(files.operatorEnvFile, 'EVM_SIGNER', 'true');
  const context = async (): Promise<SetupContext> => {
    const stack = await loadStack({ test: true, envDir: path.join(dir, 'env'), baseEnv: {} });
    return {
      stack,
      aws: account.aws,
      kms: account.kms,
      credentialsFile: path.join(dir, '.agentkeys', 'credentials', 'test.ini'),
      signersPath: path.join(dir, '.agentkeys', 'signers.test.json'),
      showSecret: false,
      confirm: async () => true,
      report: () => undefined,
      // The broker's issuer, serving its discovery document (moto has no issuer; neither do we).
      fetchJson: async () => ({ status: 200, json: { issuer: stack.oidcIssuer } }),
      state: {
        ...(stack.eip ? { eip: stack.eip } : {}),
        ...(stack.dataRoleArnEnv ? { dataRoleArn: stack.dataRoleArnEnv } : {}),
      },
    };
  };
  return { account, dir, context };
}
