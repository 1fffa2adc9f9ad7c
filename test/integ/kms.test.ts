// KMS against moto 5.2.1 over HTTP, with the DIGEST patch of test/helpers/moto-server.py
// (deviation: unpatched moto hashes DIGEST messages twice; see moto-deviation.test.ts).
import { createHash, verify as cryptoVerify, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { ListKeysCommand } from '@aws-sdk/client-kms';
import { createKmsApi } from '../../src/aws/kms.js';
import { KmsSigner } from '../../src/signing/kms-signer.js';
import { digestRow } from '../../src/audit/record.js';
import { EnvelopeCrypto } from '../../src/crypto/envelope.js';
import { CLI, runCli } from '../helpers/cli.js';
import { spawnSync } from 'node:child_process';
import { useMoto } from '../helpers/moto.js';
import { startKmsProxy } from '../helpers/kms-proxy.js';
import { tempDir } from '../helpers/tmp.js';

const moto = useMoto();
const kms = () => createKmsApi({ region: 'us-east-1' });

async function ok(args: string[], cwd: string, input?: string, env: Record<string, string> = {}) {
  const r = await runCli(args, {
    cwd,
    env: { ...moto.current.env, ...env },
    ...(input !== undefined ? { input } : {}),
  });
  if (r.code !== 0) throw new Error(`agentkeys ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}
const cli = (args: string[], cwd: string, env: Record<string, string> = {}, input?: string) =>
  runCli(args, { cwd, env: { ...moto.current.env, ...env }, ...(input !== undefined ? { input } : {}) });
let aliasSeq = 0;
const uniqueAlias = (base: string) => `alias/${base}-${process.pid}-${++aliasSeq}`;

describe('KMS signing (DIGEST, one hash)', () => {
  for (const spec of ['RSA_2048', 'ECC_NIST_P256', 'ECC_SECG_P256K1'] as const) {
    it(`${spec}: the signature verifies with node:crypto over the original bytes, not over a second hash`, async () => {
      const api = kms();
      const key = await api.createKey({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' });
      const signer = await KmsSigner.open(api, key.KeyId!);
      expect(signer.kid).toBe(key.Arn); // the ARN, never the id or alias
      const signed = digestRow({ event: 'spawn', n: 1 }, 'ab'.repeat(32));
      const sig = await signer.sign(signed.digest);
      const pub = createPublicKey({
        key: Buffer.from(await api.getPublicKey(key.KeyId!)),
        format: 'der',
        type: 'spki',
      });
      const opts = spec === 'RSA_2048' ? pub : { key: pub, dsaEncoding: 'der' as const };
      expect(cryptoVerify('sha256', signed.message, opts, sig)).toBe(true);
      expect(cryptoVerify('sha256', signed.digest, opts, sig)).toBe(false); // would be true if hashed twice
    });
  }

  it('refuses anything but a 32-byte digest before calling KMS', async () => {
    const api = kms();
    const key = await api.createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const signer = await KmsSigner.open(api, key.KeyId!);
    await expect(signer.sign(Buffer.alloc(31))).rejects.toMatchObject({ code: 'DIGEST_NOT_32_BYTES' });
  });

  it('refuses a key that cannot sign audit digests (KMS_KEY_SPEC_UNSUPPORTED, KMS_KEY_WRONG_USAGE)', async () => {
    const api = kms();
    const sym = await api.createKey({});
    await expect(KmsSigner.open(api, sym.KeyId!)).rejects.toMatchObject({ code: 'KMS_KEY_SPEC_UNSUPPORTED' });
    const p384 = await api.createKey({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY' });
    await expect(KmsSigner.open(api, p384.KeyId!)).rejects.toMatchObject({ code: 'KMS_KEY_SPEC_UNSUPPORTED' });
    await expect(KmsSigner.open(api, 'alias/does-not-exist')).rejects.toMatchObject({ code: 'KMS_KEY_NOT_FOUND' });
  });
});

describe('rotate → sign → rebuild → verify', () => {
  it.each(['ECC_NIST_P256', 'ECC_SECG_P256K1', 'RSA_2048'])(
    'checkpoint mode with a KMS %s key: one Sign per checkpoint, verified offline',
    async (spec) => {
      const cwd = tempDir();
      const alias = uniqueAlias('cp');
      await ok(['keys', 'create', '--spec', spec, '--alias', alias], cwd);
      const batch = Array.from({ length: 25 }, (_, i) =>
        JSON.stringify({ event_type: 't', actor_id: 'a', payload: { i } }),
      ).join('\n');
      const out = JSON.parse(
        (
          await ok(
            ['--json', 'sign', '--log', 'a.jsonl', '--key', `kms:${alias}`, '--batch', '--checkpoint-every', '10'],
            cwd,
            batch,
          )
        ).stdout,
      );
      expect(out.checkpoints).toMatchObject({ sizes: [10, 20, 25], signatures: 3 });
      expect(out.kmsCost).toMatchObject({ mode: 'checkpoint', perMillionEvents: { kmsRequests: 100_000, usd: 1.5 } });
      // The real figure of this run: the key's metadata and public key once, one Sign per checkpoint.
      expect(out.kmsRequests).toEqual({ DescribeKey: 1, GetPublicKey: 1, Sign: 3 });
      const v = JSON.parse((await ok(['--json', 'verify-audit', '--log', 'a.jsonl'], cwd)).stdout);
      expect(v).toMatchObject({ ok: true, findings: [], checkpoints: { verified: 3, coveredEvents: 25 } });
      // The rows carry no signer_kid: signers rebuild learns the signer from the checkpoints.
      await ok(['signers', 'rebuild', '--log', 'a.jsonl', '--out', 'rebuilt.json'], cwd);
      const rebuilt = JSON.parse(
        (await ok(['--json', 'verify-audit', '--log', 'a.jsonl', '--signers', 'rebuilt.json'], cwd)).stdout,
      );
      expect(rebuilt.checkpoints).toMatchObject({ verified: 3 });
    },
  );

  it('keeps every event verifiable across a rotation, offline, from a rebuilt registry', async () => {
    const cwd = tempDir();
    const alias = uniqueAlias('audit');
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', alias], cwd);
    await ok(
      ['sign', '--log', 'a.jsonl', '--key', `kms:${alias}`, '--event-type', 'before', '--payload', '{"n":1}'],
      cwd,
    );
    const rotated = JSON.parse(
      (await ok(['--json', 'rotate-key', '--alias', alias, '--log', 'a.jsonl', '--overlap-days', '7', '--yes'], cwd))
        .stdout,
    );
    expect(rotated.newKeyArn).not.toBe(rotated.oldKeyArn);
    await ok(
      ['sign', '--log', 'a.jsonl', '--key', `kms:${alias}`, '--event-type', 'after', '--payload', '{"n":2}'],
      cwd,
    );
    const rows = readFileSync(path.join(cwd, 'a.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.event_type)).toEqual(['before', 'signer.rotated', 'after']);
    expect(rows.map((r) => r.signer_kid)).toEqual([rotated.oldKeyArn, rotated.oldKeyArn, rotated.newKeyArn]);
    expect(rows[1].payload).toMatchObject({
      old_key_arn: rotated.oldKeyArn,
      new_key_arn: rotated.newKeyArn,
      new_key_fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    // A fresh registry rebuilt from the log alone, then the rotation windows from signers.json merged in.
    const rebuilt = JSON.parse(
      (await ok(['--json', 'signers', 'rebuild', '--log', 'a.jsonl', '--out', 'rebuilt.json'], cwd)).stdout,
    );
    expect(rebuilt.changes.filter((c: { action: string }) => c.action === 'add')).toHaveLength(2);
    expect(
      JSON.parse((await ok(['verify-audit', '--json', '--log', 'a.jsonl', '--signers', 'rebuilt.json'], cwd)).stdout),
    ).toMatchObject({ ok: true, events: 3 });
    const windows = JSON.parse(readFileSync(path.join(cwd, '.agentkeys/signers.json'), 'utf8')).signers;
    expect(windows.find((s: { signerId: string }) => s.signerId === rotated.oldKeyArn).validTo).toBeDefined();
    expect(JSON.parse((await ok(['verify-audit', '--json', '--log', 'a.jsonl'], cwd)).stdout)).toMatchObject({
      ok: true,
      events: 3,
    });
    // Rebuilding again changes nothing and keeps what the first run wrote.
    const pending = await cli(
      ['--json', 'signers', 'rebuild', '--log', 'a.jsonl', '--out', 'fresh.json', '--plan'],
      cwd,
    );
    expect(pending.code).toBe(4); // as setup --plan: changes are pending
    expect(existsSync(path.join(cwd, 'fresh.json'))).toBe(false);
    const again = JSON.parse(
      (await ok(['--json', 'signers', 'rebuild', '--log', 'a.jsonl', '--out', 'rebuilt.json', '--plan'], cwd)).stdout,
    );
    expect(again.changes.every((c: { action: string }) => c.action === 'keep')).toBe(true);
  });

  it('an interrupted rotation is finished by the next run, without a third key', async () => {
    const cwd = tempDir();
    const alias = uniqueAlias('resume');
    await ok(['keys', 'create', '--spec', 'ECC_SECG_P256K1', '--alias', alias], cwd);
    const api = kms();
    const old = await api.describeKey(alias);
    // As if the process died right after CreateKey: a receipt naming the new key, alias not moved.
    const created = await api.createKey({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'SIGN_VERIFY' });
    const receipt = path.join(cwd, '.agentkeys/rotations', `${alias.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
    mkdirSync(path.dirname(receipt), { recursive: true });
    writeFileSync(
      receipt,
      JSON.stringify({ alias, oldKeyArn: old.Arn, newKeyArn: created.Arn, startedAt: new Date().toISOString() }),
    );
    const before = (await api.client.send(new ListKeysCommand({}))).Keys!.length;
    const r = JSON.parse((await ok(['--json', 'rotate-key', '--alias', alias, '--yes'], cwd)).stdout);
    expect(r).toMatchObject({ resumed: true, newKeyArn: created.Arn, aliasMoved: true });
    expect((await api.client.send(new ListKeysCommand({}))).Keys!.length).toBe(before);
    expect((await api.describeKey(alias)).Arn).toBe(created.Arn);
  });

  it('without a terminal and without --yes, rotation asks and the answer is no (exit 1)', async () => {
    const cwd = tempDir();
    const alias = uniqueAlias('ask');
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', alias], cwd);
    const r = await cli(['rotate-key', '--alias', alias], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CONFIRMATION_REQUIRED/);
    expect(r.stderr).toMatch(/--yes/);
  });

  it('rotate-key --jwt keeps both RS256 keys in the JWKS during the overlap', async () => {
    const cwd = tempDir();
    const first = JSON.parse(
      (await ok(['--json', 'rotate-key', '--jwt', 'jwt', '--overlap-days', '7', '--yes'], cwd)).stdout,
    );
    const second = JSON.parse(
      (await ok(['--json', 'rotate-key', '--jwt', 'jwt', '--overlap-days', '7', '--yes'], cwd)).stdout,
    );
    const jwks = JSON.parse(readFileSync(path.join(cwd, 'jwt/jwks.json'), 'utf8'));
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toEqual([second.kid, first.kid]);
    expect(jwks.keys.every((k: { alg: string; kty: string }) => k.alg === 'RS256' && k.kty === 'RSA')).toBe(true);
    expect(statSync(path.resolve(cwd, second.privateKeyFile)).mode & 0o777).toBe(0o600);
  });
});

describe('HMAC keys in KMS', () => {
  it('signs with GenerateMac and verifies with --kms-verify (VerifyMac); tampering is caught by KMS', async () => {
    const cwd = tempDir();
    const alias = uniqueAlias('hmac');
    await ok(['keys', 'create', '--spec', 'HMAC_256', '--alias', alias], cwd);
    const reg = JSON.parse(readFileSync(path.join(cwd, '.agentkeys/signers.json'), 'utf8')).signers[0];
    expect(reg).toMatchObject({ algorithm: 'hmac-sha256', verifyVia: 'kms' });
    expect(reg.publicKey).toBeUndefined();
    const batch = [1, 2, 3].map((n) => JSON.stringify({ event_type: 't', payload: { n } })).join('\n');
    await ok(['sign', '--log', 'h.jsonl', '--key', `kms:${alias}`, '--batch'], cwd, batch);
    const offline = JSON.parse((await cli(['verify-audit', '--json', '--log', 'h.jsonl'], cwd)).stdout);
    expect(offline.findings.map((f: { code: string }) => f.code)).toContain('UNKNOWN_SIGNER');
    expect(
      JSON.parse((await ok(['verify-audit', '--json', '--log', 'h.jsonl', '--kms-verify'], cwd)).stdout),
    ).toMatchObject({ ok: true, events: 3 });
    const file = path.join(cwd, 'h.jsonl');
    const rows = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    rows[1].payload = { n: 99 };
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const tampered = await cli(['verify-audit', '--json', '--log', 'h.jsonl', '--kms-verify'], cwd);
    expect(tampered.code).toBe(3);
    expect(JSON.parse(tampered.stdout).findings.map((f: { index: number; code: string }) => [f.index, f.code])).toEqual(
      [
        [2, 'SIGNATURE_INVALID'],
        [3, 'PREV_HASH_MISMATCH'],
      ],
    );
  });
});

describe('envelope encryption', () => {
  async function dataKey(cwd: string) {
    const alias = uniqueAlias('data');
    await ok(['keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--alias', alias], cwd);
    return alias;
  }

  it('round-trips, names a wrong context CONTEXT_MISMATCH and any changed byte CIPHERTEXT_TAMPERED, writing nothing', async () => {
    const cwd = tempDir();
    const alias = await dataKey(cwd);
    writeFileSync(path.join(cwd, 'p.txt'), 'secret payload '.repeat(10_000));
    await ok(
      [
        'encrypt',
        '--key',
        `kms:${alias}`,
        '--context',
        'tenant=acme',
        '--context',
        'purpose=backup',
        '--in',
        'p.txt',
        '--out',
        'p.enc',
      ],
      cwd,
    );
    await ok(
      [
        'decrypt',
        '--discovery-account',
        '123456789012',
        '--context',
        'tenant=acme',
        '--context',
        'purpose=backup',
        '--in',
        'p.enc',
        '--out',
        'p.out',
      ],
      cwd,
    );
    expect(readFileSync(path.join(cwd, 'p.out'), 'utf8')).toBe(readFileSync(path.join(cwd, 'p.txt'), 'utf8'));
    for (const ctx of [
      ['tenant=evil', 'purpose=backup'],
      ['tenant=acme'],
      ['tenant=acme', 'purpose=backup', 'extra=1'],
    ]) {
      const r = await cli(
        [
          '--json',
          'decrypt',
          '--discovery-account',
          '123456789012',
          ...ctx.flatMap((c) => ['--context', c]),
          '--in',
          'p.enc',
          '--out',
          'bad.out',
        ],
        cwd,
      );
      expect(JSON.parse(r.stdout).error.code).toBe('CONTEXT_MISMATCH');
      expect(existsSync(path.join(cwd, 'bad.out'))).toBe(false);
    }
    const enc = readFileSync(path.join(cwd, 'p.enc'));
    for (const offset of [enc.length - 10, Math.floor(enc.length / 2), 400]) {
      const copy = Buffer.from(enc);
      copy[offset]! ^= 0x01;
      writeFileSync(path.join(cwd, 't.enc'), copy);
      const r = await cli(
        [
          '--json',
          'decrypt',
          '--discovery-account',
          '123456789012',
          '--context',
          'tenant=acme',
          '--context',
          'purpose=backup',
          '--in',
          't.enc',
          '--out',
          't.out',
        ],
        cwd,
      );
      expect(r.code).toBe(3);
      expect(JSON.parse(r.stdout).error.code).toBe('CIPHERTEXT_TAMPERED');
      expect(existsSync(path.join(cwd, 't.out'))).toBe(false);
    }
  });

  it('decrypt --key kms:alias/… works on what encrypt --key kms:alias/… wrote; another key is KEY_NOT_USED_FOR_MESSAGE', async () => {
    const cwd = tempDir();
    const alias = await dataKey(cwd);
    const other = await dataKey(cwd);
    writeFileSync(path.join(cwd, 'p.txt'), 'hello');
    await ok(['encrypt', '--key', `kms:${alias}`, '--context', 'k=v', 'p.txt'], cwd);
    expect((await ok(['decrypt', '--key', `kms:${alias}`, '--context', 'k=v', '--in', 'p.txt.enc'], cwd)).stdout).toBe(
      'hello',
    );
    const wrong = await cli(
      ['--json', 'decrypt', '--key', `kms:${other}`, '--context', 'k=v', '--in', 'p.txt.enc'],
      cwd,
    );
    expect(wrong.code).toBe(3);
    const arn = (await kms().describeKey(alias)).Arn!;
    expect(JSON.parse(wrong.stdout).error).toMatchObject({
      code: 'KEY_NOT_USED_FOR_MESSAGE',
      message: expect.stringContaining(arn),
    });
  });

  it('a large file shows its progress on a terminal (and never in a pipe)', async () => {
    const cwd = tempDir();
    const alias = await dataKey(cwd);
    writeFileSync(path.join(cwd, 'big.bin'), Buffer.alloc(24 << 20, 7));
    const line = (mode: string, file: string) =>
      `${process.execPath} -- ${CLI} ${mode} --key kms:${alias} --context k=v ${file}`;
    const onTerminal = (command: string) =>
      spawnSync('script', ['-qec', command, '/dev/null'], {
        cwd,
        env: { ...process.env, ...moto.current.env },
        encoding: 'utf8',
      }).stdout;
    // The first update may come before a whole MiB is read, and on a fast run be the only one.
    expect(onTerminal(line('encrypt', 'big.bin'))).toMatch(/encrypting big\.bin: \d+% \(\d+ [KM]iB of 24 MiB\)/);
    rmSync(path.join(cwd, 'big.bin'));
    expect(onTerminal(line('decrypt', 'big.bin.enc'))).toMatch(/decrypting big\.bin\.enc: \d+%/);
    expect(readFileSync(path.join(cwd, 'big.bin')).equals(Buffer.alloc(24 << 20, 7))).toBe(true);
    rmSync(path.join(cwd, 'big.bin'));
    const piped = await runCli(['decrypt', '--key', `kms:${alias}`, '--context', 'k=v', 'big.bin.enc'], {
      cwd,
      env: moto.current.env,
    });
    expect(piped.stderr).not.toContain('decrypting');
  });

  it('decryption trusts only the keys it is told to (issue 24): no --key and no discovery filter is refused; another account, a short GCM tag, and a truncated message to stdout are refused', async () => {
    const cwd = tempDir();
    const alias = await dataKey(cwd);
    writeFileSync(path.join(cwd, 'p.txt'), 'x'.repeat(3 << 20)); // three frames
    await ok(['encrypt', '--key', `kms:${alias}`, '--context', 'k=v', 'p.txt'], cwd);
    const bare = await cli(['--json', 'decrypt', '--context', 'k=v', '--in', 'p.txt.enc'], cwd);
    expect([bare.code, JSON.parse(bare.stdout).error.code]).toEqual([2, 'DECRYPT_KEY_REQUIRED']);
    const elsewhere = await cli(
      ['--json', 'decrypt', '--discovery-account', '210987654321', '--context', 'k=v', '--in', 'p.txt.enc'],
      cwd,
    );
    expect(elsewhere.code).not.toBe(0);
    expect(JSON.parse(elsewhere.stdout).error.code).not.toBe('INTERNAL');
    // A truncated message: not one byte of plaintext reaches stdout before the error.
    const whole = readFileSync(path.join(cwd, 'p.txt.enc'));
    writeFileSync(path.join(cwd, 'cut.enc'), whole.subarray(0, whole.length - (1 << 20)));
    const cut = await cli(['decrypt', '--key', `kms:${alias}`, '--context', 'k=v', '--in', 'cut.enc'], cwd);
    expect(cut.code).toBe(3);
    expect(cut.stdout).toBe('');
    // Sentinel: --key is honoured, and a tag cut to 4 bytes (which GCM would accept) is refused.
    const other = await dataKey(cwd);
    writeFileSync(path.join(cwd, 's.txt'), 'secret');
    await ok(
      [
        'encrypt',
        '--format',
        'sentinel',
        '--key',
        `kms:${alias}`,
        '--context',
        'k=v',
        '--in',
        's.txt',
        '--out',
        's.json',
      ],
      cwd,
    );
    const wrongKey = await cli(
      ['--json', 'decrypt', '--format', 'sentinel', '--key', `kms:${other}`, '--context', 'k=v', '--in', 's.json'],
      cwd,
    );
    expect(JSON.parse(wrongKey.stdout).error.code).toBe('KEY_NOT_USED_FOR_MESSAGE');
    const env = JSON.parse(readFileSync(path.join(cwd, 's.json'), 'utf8')) as { authTag: string };
    const shortTag = Buffer.from(env.authTag, 'base64').subarray(0, 4).toString('base64');
    writeFileSync(path.join(cwd, 'short.json'), JSON.stringify({ ...env, authTag: shortTag }));
    const short = await cli(
      ['--json', 'decrypt', '--format', 'sentinel', '--key', `kms:${alias}`, '--context', 'k=v', '--in', 'short.json'],
      cwd,
    );
    expect(JSON.parse(short.stdout).error.code).toBe('CIPHERTEXT_TAMPERED');
    // A KMS denial is named as one (exit 1), not reported as tampering. moto enforces no key
    // policy, so a proxy in front of it answers Decrypt with AccessDeniedException.
    const proxy = await startKmsProxy(moto.current.env.AWS_ENDPOINT_URL!);
    try {
      proxy.denyDecrypts(true);
      const denied = await runCli(
        ['--json', 'decrypt', '--key', `kms:${alias}`, '--context', 'k=v', '--in', 'p.txt.enc', '--out', 'd.txt'],
        { cwd, env: { ...moto.current.env, KMS_ENDPOINT: proxy.endpoint } },
      );
      expect([denied.code, JSON.parse(denied.stdout).error.code]).toEqual([1, 'KMS_ACCESS_DENIED']);
      expect(existsSync(path.join(cwd, 'd.txt'))).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it('refuses signing and HMAC keys, existing outputs (without --force) and a terminal; detects a sentinel file', async () => {
    const cwd = tempDir();
    const api = kms();
    for (const spec of ['ECC_NIST_P256', 'HMAC_256'] as const) {
      const key = await api.createKey({
        KeySpec: spec,
        KeyUsage: spec === 'HMAC_256' ? 'GENERATE_VERIFY_MAC' : 'SIGN_VERIFY',
      });
      writeFileSync(path.join(cwd, 'p.txt'), 'x');
      const r = await cli(['--json', 'encrypt', '--key', `kms:${key.Arn}`, 'p.txt'], cwd);
      expect({ code: r.code, error: JSON.parse(r.stdout).error.code }).toEqual({
        code: 2,
        error: 'KMS_KEY_WRONG_USAGE',
      });
      expect(existsSync(path.join(cwd, 'p.txt.enc'))).toBe(false);
    }
    const alias = await dataKey(cwd);
    const first = await ok(['encrypt', '--key', `kms:${alias}`, '--context', 'k=v', 'p.txt'], cwd);
    expect(first.stderr).toContain('encrypted p.txt → p.txt.enc');
    const again = await cli(['--json', 'encrypt', '--key', `kms:${alias}`, '--context', 'k=v', 'p.txt'], cwd);
    expect(JSON.parse(again.stdout).error.code).toBe('OUTPUT_EXISTS');
    await ok(['encrypt', '--force', '--key', `kms:${alias}`, '--context', 'k=v', 'p.txt'], cwd);
    writeFileSync(path.join(cwd, 'keep.txt'), 'precious');
    const over = await cli(
      [
        '--json',
        'decrypt',
        '--discovery-account',
        '123456789012',
        '--context',
        'k=v',
        '--in',
        'p.txt.enc',
        '--out',
        'keep.txt',
      ],
      cwd,
    );
    expect(JSON.parse(over.stdout).error.code).toBe('OUTPUT_EXISTS');
    expect(readFileSync(path.join(cwd, 'keep.txt'), 'utf8')).toBe('precious');
    await ok(
      [
        'encrypt',
        '--format',
        'sentinel',
        '--key',
        `kms:${alias}`,
        '--context',
        'k=v',
        '--in',
        'p.txt',
        '--out',
        's.json',
      ],
      cwd,
    );
    const sentinel = await cli(
      ['--json', 'decrypt', '--discovery-account', '123456789012', '--context', 'k=v', '--in', 's.json'],
      cwd,
    );
    expect({ code: sentinel.code, error: JSON.parse(sentinel.stdout).error.code }).toEqual({
      code: 2,
      error: 'CIPHERTEXT_FORMAT_MISMATCH',
    });
  });

  it('reads and writes the seed JSON envelope (--format sentinel) with the same checks', async () => {
    const cwd = tempDir();
    const alias = await dataKey(cwd);
    writeFileSync(path.join(cwd, 's.txt'), '{"creditCard":"4111"}');
    await ok(
      [
        'encrypt',
        '--format',
        'sentinel',
        '--key',
        `kms:${alias}`,
        '--context',
        'intentId=intent-123',
        '--in',
        's.txt',
        '--out',
        's.json',
      ],
      cwd,
    );
    const env = JSON.parse(readFileSync(path.join(cwd, 's.json'), 'utf8'));
    expect(Object.keys(env).sort()).toEqual(['authTag', 'encrypted', 'encryptedDataKey', 'iv', 'keyId']);
    expect(Buffer.from(env.iv, 'base64')).toHaveLength(12);
    expect(
      (
        await ok(
          [
            'decrypt',
            '--discovery-account',
            '123456789012',
            '--format',
            'sentinel',
            '--context',
            'intentId=intent-123',
            '--in',
            's.json',
          ],
          cwd,
        )
      ).stdout,
    ).toBe('{"creditCard":"4111"}');
    expect(
      JSON.parse(
        (
          await cli(
            [
              '--json',
              'decrypt',
              '--discovery-account',
              '123456789012',
              '--format',
              'sentinel',
              '--context',
              'intentId=other',
              '--in',
              's.json',
            ],
            cwd,
          )
        ).stdout,
      ).error.code,
    ).toBe('CONTEXT_MISMATCH');
    writeFileSync(
      path.join(cwd, 't.json'),
      JSON.stringify({ ...env, encrypted: Buffer.from('XXXX').toString('base64') }),
    );
    expect(
      JSON.parse(
        (
          await cli(
            [
              '--json',
              'decrypt',
              '--discovery-account',
              '123456789012',
              '--format',
              'sentinel',
              '--context',
              'intentId=intent-123',
              '--in',
              't.json',
            ],
            cwd,
          )
        ).stdout,
      ).error.code,
    ).toBe('CIPHERTEXT_TAMPERED');
  });

  it('the data-key cache serves many messages from one GenerateDataKey; --no-cache calls KMS for each', async () => {
    const cwd = tempDir();
    const alias = await dataKey(cwd);
    const files = ['a', 'b', 'c', 'd'].map((n) => {
      writeFileSync(path.join(cwd, n), `file ${n}`);
      return n;
    });
    const cached = await ok(['--debug', 'encrypt', '--key', `kms:${alias}`, '--context', 'k=v', ...files], cwd);
    expect(cached.stderr).toMatch(/3 hit\(s\), 1 miss/);
    expect(cached.stderr).toMatch(/GenerateDataKey×1\b/);
    const uncached = await ok(
      ['--debug', 'encrypt', '--no-cache', '--key', `kms:${alias}`, '--context', 'k=v', ...files.map((f) => `${f}`)],
      tempDirWith(cwd, files),
    );
    expect(uncached.stderr).toMatch(/GenerateDataKey×4\b/);
    for (const f of files)
      expect(
        (await ok(['decrypt', '--discovery-account', '123456789012', '--context', 'k=v', '--in', `${f}.enc`], cwd))
          .stdout,
      ).toBe(`file ${f}`);
  });

  it('streams 200 MB through encrypt and decrypt in flat memory', async () => {
    const api = kms();
    const key = await api.createKey({});
    const crypto = new EnvelopeCrypto(api, key.Arn!, false);
    const total = 200 * 1024 * 1024;
    const source = () =>
      Readable.from(
        (function* () {
          const block = Buffer.alloc(1 << 20);
          for (let i = 0; i < total / block.length; i++) {
            block.writeUInt32BE(i, 0);
            yield Buffer.from(block);
          }
        })(),
      );
    const expected = createHash('sha256');
    await pipeline(source(), new Writable({ write: (c, _e, cb) => (expected.update(c), cb()) }));
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const actual = createHash('sha256');
    const { PassThrough } = await import('node:stream');
    const middle = new PassThrough({ highWaterMark: 1 << 20 });
    await Promise.all([
      crypto.encryptStream(source(), middle, { run: 'big' }, total),
      crypto.decryptStream(middle, new Writable({ write: (c, _e, cb) => (actual.update(c), cb()) }), { run: 'big' }),
    ]);
    clearInterval(sample);
    expect(actual.digest('hex')).toBe(expected.digest('hex'));
    // Buffering either side would cost ≥ 200 MB; frames are 1 MiB.
    expect(peak - baseline).toBeLessThan(120 * 1024 * 1024);
  }, 180_000);
});

function tempDirWith(from: string, files: string[]): string {
  const dir = tempDir();
  for (const f of files) writeFileSync(path.join(dir, f), readFileSync(path.join(from, f)));
  return dir;
}

describe('keys', () => {
  it('describe shows spec, origin, multi-region role and aliases; create adopts an existing alias', async () => {
    const cwd = tempDir();
    const alias = uniqueAlias('mrk');
    const first = JSON.parse(
      (await ok(['--json', 'keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--alias', alias, '--multi-region'], cwd))
        .stdout,
    );
    const second = JSON.parse(
      (await ok(['--json', 'keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--alias', alias, '--multi-region'], cwd))
        .stdout,
    );
    expect([first.created, second.created]).toEqual([true, false]);
    expect(second.keyArn).toBe(first.keyArn);
    const d = JSON.parse((await ok(['--json', 'keys', 'describe', '--key', `kms:${alias}`], cwd)).stdout);
    expect(d).toMatchObject({
      spec: 'SYMMETRIC_DEFAULT',
      origin: 'AWS_KMS',
      multiRegion: 'PRIMARY',
      aliases: [alias],
      ageDays: 0,
    });
    expect(d.keyId).toMatch(/^mrk-/);
  });

  it('replicate creates replicas of a multi-region key once, and refuses a single-region key', async () => {
    const cwd = tempDir();
    const mrk = uniqueAlias('rep');
    await ok(['keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--alias', mrk, '--multi-region'], cwd);
    const r = JSON.parse(
      (await ok(['--json', 'keys', 'replicate', '--key', `kms:${mrk}`, '--regions', 'us-west-2,eu-west-1'], cwd))
        .stdout,
    );
    expect(r.replicas.map((x: { region: string; action: string }) => [x.region, x.action])).toEqual([
      ['us-west-2', 'created'],
      ['eu-west-1', 'created'],
    ]);
    const single = uniqueAlias('single');
    await ok(['keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--alias', single], cwd);
    const bad = await cli(['--json', 'keys', 'replicate', '--key', `kms:${single}`, '--regions', 'us-west-2'], cwd);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout).error.code).toBe('KMS_KEY_NOT_MULTI_REGION');
  });

  it('says once on stderr when no region is set and the default is used', async () => {
    const cwd = tempDir();
    const alias = uniqueAlias('region');
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', alias], cwd);
    const r = await ok(['keys', 'describe', '--key', `kms:${alias}`], cwd, undefined, {
      AWS_REGION: '',
      AWS_DEFAULT_REGION: '',
    });
    expect(r.stderr.match(/no AWS region set: using us-east-1/g)).toHaveLength(1);
    expect((await ok(['keys', 'describe', '--key', `kms:${alias}`], cwd)).stderr).not.toContain('no AWS region set');
  });

  it('symmetric keys rotate in KMS at the asked period; asymmetric keys say rotate-key; replicas default to seed 001', async () => {
    // moto deviation (aws-and-moto.md): GetKeyRotationStatus does not echo RotationPeriodInDays.
    const cwd = tempDir();
    const sym = uniqueAlias('rot');
    const created = JSON.parse(
      (
        await ok(
          ['--json', 'keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--alias', sym, '--rotation-period-days', '180'],
          cwd,
        )
      ).stdout,
    );
    expect(created.rotationPeriodDays).toBe(180);
    const d = JSON.parse((await ok(['--json', 'keys', 'describe', '--key', `kms:${sym}`], cwd)).stdout);
    expect(d.rotation).toMatchObject({ supported: true, enabled: true });
    const advice = await cli(['--json', 'keys', 'should-rotate', '--key', `kms:${sym}`], cwd);
    expect(advice.code).toBe(1);
    expect(JSON.parse(advice.stdout).reason).toMatch(/KMS rotates it/);
    const asym = uniqueAlias('rotp256');
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', asym], cwd);
    const text = (await ok(['keys', 'describe', '--key', `kms:${asym}`], cwd)).stdout;
    expect(text).toMatch(/rotation\s+not in KMS: ECC_NIST_P256 keys rotate with agentkeys rotate-key/);
    const bad = await cli(
      ['--json', 'keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--rotation-period-days', '30'],
      cwd,
    );
    expect(bad.code).toBe(2);
    const mrk = uniqueAlias('rotmrk');
    await ok(['keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--alias', mrk, '--multi-region'], cwd);
    const r = JSON.parse((await ok(['--json', 'keys', 'replicate', '--key', `kms:${mrk}`], cwd)).stdout);
    expect(r.replicas.map((x: { region: string }) => x.region)).toEqual(['us-west-2', 'eu-west-1']);
  });

  it('AUDIT_SIGNER_KID names a KMS signer: events carry the kid, the registry records the ARN, both verifies work', async () => {
    const cwd = tempDir();
    const alias = uniqueAlias('kid');
    const created = JSON.parse(
      (
        await ok(
          ['--json', 'keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', alias, '--kid', 'auditor-signing-v1'],
          cwd,
        )
      ).stdout,
    );
    expect(created.kid).toBe('auditor-signing-v1');
    const registry = JSON.parse(readFileSync(path.join(cwd, '.agentkeys/signers.json'), 'utf8'));
    expect(registry.signers[0]).toMatchObject({ signerId: 'auditor-signing-v1', keyArn: created.keyArn });
    await ok(['sign', '--log', 'k.jsonl', '--event-type', 't', '--payload', '{}'], cwd, undefined, {
      AUDIT_SIGNING_KMS_KEY_ID: alias,
      AUDIT_SIGNER_KID: 'auditor-signing-v1',
    });
    const row = JSON.parse(readFileSync(path.join(cwd, 'k.jsonl'), 'utf8').split('\n')[0]!);
    expect(row.signer_kid).toBe('auditor-signing-v1');
    await ok(['verify-audit', '--log', 'k.jsonl'], cwd);
    await ok(['verify-audit', '--log', 'k.jsonl', '--kms-verify'], cwd);
  });

  it('should-rotate exits 1 for a new key and reports the policy in --json', async () => {
    const cwd = tempDir();
    const alias = uniqueAlias('age');
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', alias], cwd);
    const r = await cli(['--json', 'keys', 'should-rotate', '--key', `kms:${alias}`], cwd);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      shouldRotate: false,
      ageDays: 0,
      policy: { intervalDays: 90, maxAgeDays: 365 },
    });
  });
});

describe('credentials and the KMS operation trail', () => {
  it('signs through web identity (OIDC_TOKEN_PATH + KMS_ROLE_ARN) and through --role-arn', async () => {
    // moto deviation (aws-and-moto.md §1 STS): AssumeRole and AssumeRoleWithWebIdentity accept any
    // token and role; this checks the wiring, not AWS's trust evaluation.
    const cwd = tempDir();
    const alias = uniqueAlias('wi');
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', alias], cwd);
    writeFileSync(path.join(cwd, 'token'), 'eyJhbGciOiJSUzI1NiJ9.e30.sig');
    await ok(
      ['sign', '--log', 'a.jsonl', '--key', `kms:${alias}`, '--event-type', 't', '--payload', '{}'],
      cwd,
      undefined,
      { OIDC_TOKEN_PATH: path.join(cwd, 'token'), KMS_ROLE_ARN: 'arn:aws:iam::123456789012:role/agentkeys-kms' },
    );
    await ok(
      [
        'sign',
        '--log',
        'a.jsonl',
        '--key',
        `kms:${alias}`,
        '--role-arn',
        'arn:aws:iam::123456789012:role/agentkeys-kms',
        '--event-type',
        't',
        '--payload',
        '{}',
      ],
      cwd,
    );
    expect((await cli(['verify-audit', '--log', 'a.jsonl'], cwd)).code).toBe(0);
    const bad = await cli(
      ['--json', 'sign', '--log', 'a.jsonl', '--key', `kms:${alias}`, '--event-type', 't', '--payload', '{}'],
      cwd,
      { KMS_ROLE_ARN: 'arn:aws:iam::123456789012:role/x' },
    );
    expect(JSON.parse(bad.stdout).error).toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('REQUIRE_KMS=true accepts a KMS key', async () => {
    const cwd = tempDir();
    const alias = uniqueAlias('req');
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', alias], cwd);
    await ok(['sign', '--log', 'a.jsonl', '--event-type', 't', '--payload', '{}'], cwd, undefined, {
      REQUIRE_KMS: 'true',
      AUDIT_SIGNING_KEY_SOURCE: 'kms',
      AUDIT_SIGNING_KMS_KEY_ID: alias,
    });
  });

  it('--audit-log records every KMS operation as a signed event, without key material or plaintext', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'ops'], cwd);
    const data = uniqueAlias('trail');
    await ok(
      [
        '--audit-log',
        'ops.jsonl',
        '--audit-key',
        'local:ops',
        'keys',
        'create',
        '--spec',
        'SYMMETRIC_DEFAULT',
        '--alias',
        data,
      ],
      cwd,
    );
    writeFileSync(path.join(cwd, 'p.txt'), 'TOP-SECRET-PLAINTEXT');
    await ok(
      [
        '--audit-log',
        'ops.jsonl',
        '--audit-key',
        'local:ops',
        'encrypt',
        '--key',
        `kms:${data}`,
        '--context',
        'tenant=acme',
        '--in',
        'p.txt',
        '--out',
        'p.enc',
      ],
      cwd,
    );
    await ok(
      [
        '--audit-log',
        'ops.jsonl',
        '--audit-key',
        'local:ops',
        'decrypt',
        '--discovery-account',
        '123456789012',
        '--context',
        'tenant=acme',
        '--in',
        'p.enc',
        '--out',
        'p.out',
      ],
      cwd,
    );
    const failed = await cli(
      [
        '--audit-log',
        'ops.jsonl',
        '--audit-key',
        'local:ops',
        'decrypt',
        '--discovery-account',
        '123456789012',
        '--context',
        'tenant=other',
        '--in',
        'p.enc',
        '--out',
        'q.out',
      ],
      cwd,
    );
    expect(failed.code).toBe(3); // CONTEXT_MISMATCH: the evidence does not verify
    const text = readFileSync(path.join(cwd, 'ops.jsonl'), 'utf8');
    const events = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // Metadata reads are recorded too, as CloudTrail records them (issue 24).
    expect(events.map((e) => e.event_type)).toEqual([
      'kms.DescribeKey', // keys create: is the alias taken? (NotFoundException, recorded as an error)
      'kms.CreateKey',
      'kms.CreateAlias',
      'kms.GetKeyRotationStatus',
      'kms.EnableKeyRotation', // keys create turns on KMS-native rotation for symmetric keys
      'kms.DescribeKey', // encrypt checks the key's usage
      'kms.GenerateDataKey',
      'kms.Decrypt',
      'kms.Decrypt',
    ]);
    // Who did each, as CloudTrail's userIdentity (STS GetCallerIdentity, once per process).
    expect(events.every((e) => /^arn:aws:(iam|sts)::123456789012:/.test(String(e.payload.caller)))).toBe(true);
    expect(events.find((e) => e.event_type === 'kms.GenerateDataKey').payload).toMatchObject({
      operation: 'GenerateDataKey',
      result: 'ok',
      contextKeys: expect.arrayContaining(['tenant']),
    });
    expect(text).not.toMatch(/TOP-SECRET|acme|Plaintext/);
    expect(JSON.parse((await ok(['verify-audit', '--json', '--log', 'ops.jsonl'], cwd)).stdout)).toMatchObject({
      ok: true,
      events: 9,
    });
  });
});
