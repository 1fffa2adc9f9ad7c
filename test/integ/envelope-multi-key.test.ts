// Envelope encryption under several KMS keys, and multi-region-key-aware decryption, on moto
// 5.2.1 over HTTP (its ReplicateKey shares the key material, as KMS does). Depends on a moto
// deviation the sandbox launcher patches: moto cuts a multi-region key's 40-character ID to 36 in
// its ciphertext blob, so unpatched nothing under an MRK decrypts (patch_kms_mrk_ciphertext). The regional outage
// is played by test/helpers/kms-proxy.ts, which fails every request signed for one region: moto
// has no outages of its own.
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startKmsProxy } from '../helpers/kms-proxy.js';
import { useMoto } from '../helpers/moto.js';
import { tempDir } from '../helpers/tmp.js';

const moto = useMoto();
let seq = 0;
const alias = (base: string) => `alias/${base}-${process.pid}-${++seq}`;

async function setup() {
  const cwd = tempDir();
  const run = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, { cwd, env: { ...moto.current.env, ...env } });
  const json = async (args: string[], env: Record<string, string> = {}) => {
    const r = await run(['--json', ...args], env);
    return { code: r.code, out: JSON.parse(r.stdout || '{}'), stderr: r.stderr };
  };
  const mrk = alias('mrk');
  const created = await json(['keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--alias', mrk, '--multi-region']);
  expect(created.code, created.stderr).toBe(0);
  const replicated = await json(['keys', 'replicate', '--key', `kms:${mrk}`, '--regions', 'eu-west-1']);
  expect(replicated.code, replicated.stderr).toBe(0);
  const other = await json(['keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--alias', alias('other')]);
  writeFileSync(path.join(cwd, 'secret.txt'), 'the plaintext\n');
  return {
    cwd,
    run,
    json,
    primary: created.out.keyArn as string,
    replica: replicated.out.replicas[0].keyArn as string,
    other: other.out.keyArn as string,
  };
}

/** `encrypt|decrypt --key K… --context k=v --in IN --out OUT`, with any flags before --key. */
const envelope = (mode: 'encrypt' | 'decrypt', keys: string[], input: string, output: string, flags: string[] = []) => [
  mode,
  ...flags,
  ...keys.flatMap((k) => ['--key', `kms:${k}`]),
  '--context',
  'k=v',
  '--in',
  input,
  '--out',
  output,
];

describe('encrypt under several keys, decrypt with any', () => {
  it('each --key wraps the data key; each alone decrypts; a key it was not wrapped for is named', async () => {
    const t = await setup();
    const enc = await t.json(envelope('encrypt', [t.primary, t.other], 'secret.txt', 's.enc'));
    expect(enc.code, enc.stderr).toBe(0);
    for (const key of [t.primary, t.other, t.replica]) {
      const out = `d-${seq++}.txt`;
      const dec = await t.json(envelope('decrypt', [key], 's.enc', out));
      expect(dec.code, `${key}: ${dec.stderr}`).toBe(0);
    }
    const third = await t.json(['keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--alias', alias('third')]);
    const wrong = await t.json(envelope('decrypt', [third.out.keyArn], 's.enc', 'w.txt'));
    expect(wrong.out.error.code).toBe('KEY_NOT_USED_FOR_MESSAGE');
    expect(existsSync(path.join(t.cwd, 'w.txt'))).toBe(false);
  });

  it('the primary region down: the replica after it decrypts (MRK-aware); alone, the primary fails', async () => {
    const t = await setup();
    const enc = await t.json(envelope('encrypt', [t.primary], 'secret.txt', 's.enc'));
    expect(enc.code, enc.stderr).toBe(0);
    const proxy = await startKmsProxy(moto.current.env.AWS_ENDPOINT_URL!);
    try {
      proxy.setRegionDown('us-east-1');
      const env = { KMS_ENDPOINT: proxy.endpoint, AGENTKEYS_KMS_MAX_ATTEMPTS: '1' };
      const down = await t.json(envelope('decrypt', [t.primary], 's.enc', 'a.txt'), env);
      expect(down.code).toBe(1);
      expect(down.out.error.code).toBe('KMS_DECRYPT_FAILED');
      const fallback = await t.json(envelope('decrypt', [t.primary, t.replica], 's.enc', 'b.txt'), env);
      expect(fallback.code, fallback.stderr + JSON.stringify(fallback.out)).toBe(0);
      expect(proxy.counts.refused).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });

  it('refuses to wrap under two keys of one multi-region key, and several keys in the sentinel format', async () => {
    const t = await setup();
    const related = await t.json(envelope('encrypt', [t.primary, t.replica], 'secret.txt', 'x.enc'));
    expect([related.code, related.out.error.code]).toEqual([2, 'FLAG_CONFLICT']);
    const sentinel = await t.json(
      envelope('encrypt', [t.primary, t.other], 'secret.txt', 'y.enc', ['--format', 'sentinel']),
    );
    expect([sentinel.code, sentinel.out.error.code]).toEqual([2, 'FLAG_CONFLICT']);
    expect(existsSync(path.join(t.cwd, 'x.enc')) || existsSync(path.join(t.cwd, 'y.enc'))).toBe(false);
  });
});
