import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { tempDir } from '../../helpers/tmp.js';

describe('config layering: defaults < env file < environment < flags', () => {
  it('takes each setting from the highest layer that has it and says where from', async () => {
    const file = path.join(tempDir(), 'a.env');
    writeFileSync(file, 'AUDIT_SIGNER_KID=from-file\nAUDIT_SIGNING_ALG=rsa\nAGENTKEYS_DIR=/from/file\n');
    const config = await loadConfig({
      envFile: file,
      env: { AUDIT_SIGNING_ALG: 'Ed25519', AGENTKEYS_DIR: '/from/env' },
      flags: { dir: '/from/flag' },
    });
    expect(config.signerKid).toBe('from-file');
    expect(config.alg).toBe('ed25519');
    expect(config.dir).toBe('/from/flag');
    expect(config.signersPath).toBe('/from/flag/signers.json');
    expect(config.origins).toMatchObject({
      signerKid: `${file} AUDIT_SIGNER_KID`,
      alg: 'environment AUDIT_SIGNING_ALG',
      dir: '--dir',
    });
    expect(config.requireKms).toBe(false);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('an invalid env file is ENV_FILE_INVALID', async () => {
    const file = path.join(tempDir(), 'a.env');
    writeFileSync(file, 'X=$(whoami)\n');
    await expect(loadConfig({ envFile: file, env: {}, flags: {} })).rejects.toMatchObject({
      code: 'ENV_FILE_INVALID',
      exitCode: 2,
    });
  });

  it('both AUDIT_SIGNING_PRIVATE_KEY and AUDIT_SIGNING_KEY_PATH is ambiguous', async () => {
    await expect(
      loadConfig({
        env: { AUDIT_SIGNING_PRIVATE_KEY: 'x', AUDIT_SIGNING_KEY_PATH: 'y', AGENTKEYS_KEY: 'bogus' },
        flags: {},
      }),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: expect.arrayContaining([expect.stringMatching(/both set/), expect.stringMatching(/not kms:/)]),
    });
  });
});
