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

describe('the seeds’ other settings (issue 12)', () => {
  const load = (env: Record<string, string>) => loadConfig({ env, flags: {} });

  it('KMS_KEY_ALIAS names the signing key; OIDC_TOKEN with KMS_ROLE_ARN is web identity; LOG_LEVEL and the session', async () => {
    const c = await load({
      KMS_KEY_ALIAS: 'alias/aureus-sentinel-signing-key',
      OIDC_TOKEN: 'eyJ...',
      KMS_ROLE_ARN: 'arn:aws:iam::123456789012:role/Sentinel',
      KMS_AUTH_MODE: 'OIDC',
      LOG_LEVEL: 'debug',
      AGENTKEYS_SESSION_SECONDS: '900',
    });
    expect(c).toMatchObject({
      kmsKeyId: 'alias/aureus-sentinel-signing-key',
      webIdentityToken: 'eyJ...',
      kmsAuthMode: 'oidc',
      logLevel: 'debug',
      sessionSeconds: 900,
    });
    expect((await load({})).sessionSeconds).toBe(3600);
  });

  it('lists every bad one at once: LOG_LEVEL, KMS_AUTH_MODE=oidc without a token, a session over 1 h', async () => {
    const err = (await load({ LOG_LEVEL: 'loud', KMS_AUTH_MODE: 'oidc', AGENTKEYS_SESSION_SECONDS: '7200' }).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code: string; details: string[] };
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.details.join('\n')).toMatch(/"loud" is not error, warn, info or debug/);
    expect(err.details.join('\n')).toMatch(/=oidc needs OIDC_TOKEN_PATH \(or OIDC_TOKEN\) and KMS_ROLE_ARN/);
    expect(err.details.join('\n')).toMatch(/"7200" is not 900-3600 seconds/);
  });
});
