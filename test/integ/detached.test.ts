// Issue 24: detached signatures over a file (seed 001's sign(data) / verify(data, signature,
// keyId)), with KMS keys on moto (RAW up to 4 KB, DIGEST beyond; the launcher fixes moto's DIGEST
// signing) and local keys, each checked by openssl with the public key alone, by `keys verify`,
// and refused (exit 3) once the data changes.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createKmsApi } from '../../src/aws/kms.js';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { tempDir } from '../helpers/tmp.js';

const moto = useMoto();

function opensslVerifies(pubPem: string, data: string, sig: string, ed25519: boolean, dir: string): boolean {
  const pub = path.join(dir, 'pub.pem');
  writeFileSync(pub, pubPem);
  const args = ed25519
    ? ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', data, '-sigfile', sig]
    : ['dgst', '-sha256', '-verify', pub, '-signature', sig, data];
  try {
    execFileSync('openssl', args, { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

describe('keys sign / keys verify', () => {
  it('KMS P-256 and RSA keys, small and large data: openssl and KMS Verify accept; a changed byte is exit 3', async () => {
    const cwd = tempDir();
    const env = moto.current.env;
    const kms = createKmsApi({ region: 'us-east-1' });
    for (const spec of ['ECC_NIST_P256', 'RSA_2048'] as const) {
      const arn = (await kms.createKey({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' })).Arn!;
      const der = Buffer.from(await kms.getPublicKey(arn));
      const pem = `-----BEGIN PUBLIC KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PUBLIC KEY-----\n`;
      for (const size of [100, 10_000]) {
        const data = path.join(cwd, `d-${size}`);
        writeFileSync(data, randomBytes(size));
        const sig = path.join(cwd, `s-${spec}-${size}`);
        const signed = await runCli(['--json', 'keys', 'sign', '--key', `kms:${arn}`, '--in', data, '--out', sig], {
          cwd,
          env,
        });
        expect(signed.code, signed.stdout + signed.stderr).toBe(0);
        expect(JSON.parse(signed.stdout).messageType).toBe(size <= 4096 ? 'RAW' : 'DIGEST');
        expect(opensslVerifies(pem, data, sig, false, cwd), `${spec} ${size}`).toBe(true);
        const verified = await runCli(['keys', 'verify', '--key', `kms:${arn}`, '--in', data, '--signature', sig], {
          cwd,
          env,
        });
        expect(verified.code, verified.stderr).toBe(0);
        writeFileSync(data, randomBytes(size));
        const changed = await runCli(
          ['--json', 'keys', 'verify', '--key', `kms:${arn}`, '--in', data, '--signature', sig],
          {
            cwd,
            env,
          },
        );
        expect([changed.code, JSON.parse(changed.stdout).error.code]).toEqual([3, 'DETACHED_SIGNATURE_INVALID']);
        expect(opensslVerifies(pem, data, sig, false, cwd)).toBe(false);
      }
    }
  }, 120_000);

  it('local Ed25519 and ECDSA keys sign as openssl verifies (Ed25519 over the data itself)', async () => {
    const cwd = tempDir();
    const data = path.join(cwd, 'data');
    writeFileSync(data, randomBytes(6000));
    for (const alg of ['ed25519', 'ecdsa-p256', 'rsa-sha256']) {
      expect((await runCli(['keys', 'create', '--local', '--alg', alg, '--kid', alg], { cwd })).code).toBe(0);
      const sig = path.join(cwd, `${alg}.sig`);
      expect((await runCli(['keys', 'sign', '--key', `local:${alg}`, '--in', data, '--out', sig], { cwd })).code).toBe(
        0,
      );
      const pem = execFileSync('openssl', ['pkey', '-in', path.join(cwd, '.agentkeys/keys', `${alg}.pem`), '-pubout'], {
        encoding: 'utf8',
      });
      expect(opensslVerifies(pem, data, sig, alg === 'ed25519', cwd), alg).toBe(true);
      expect(
        (await runCli(['keys', 'verify', '--key', `local:${alg}`, '--in', data, '--signature', sig], { cwd })).code,
      ).toBe(0);
    }
  });
});
