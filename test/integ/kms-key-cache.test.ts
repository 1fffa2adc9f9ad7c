// One event per sign call with a KMS key, against moto 5.2.1 over HTTP: the key's metadata and
// public key come from .agentkeys/cache after the first call, and with --anchor-every N the anchor
// costs one Sign per N events. The attacker with the writer's rights edits the cache and cuts the
// log: a planted public key is never published, and a cut below the anchor is still caught.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { tempDir } from '../helpers/tmp.js';

const moto = useMoto();
const cli = (args: string[], cwd: string, env: Record<string, string> = {}) =>
  runCli(args, { cwd, env: { ...moto.current.env, ...env } });
async function ok(args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = await cli(args, cwd, env);
  if (r.code !== 0) throw new Error(`agentkeys ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}
let seq = 0;
const alias = () => `alias/cache-${process.pid}-${++seq}`;

async function signOne(cwd: string, key: string, i: number, extra: string[] = [], env: Record<string, string> = {}) {
  const r = await ok(
    [
      '--json',
      'sign',
      '--log',
      'a.jsonl',
      '--key',
      `kms:${key}`,
      '--event-type',
      't',
      '--actor',
      'a',
      '--payload',
      JSON.stringify({ i }),
      ...extra,
    ],
    cwd,
    env,
  );
  return JSON.parse(r.stdout) as { kmsRequests: Record<string, number>; anchored?: number; events: number };
}

function cacheFiles(cwd: string): string[] {
  const dir = path.join(cwd, '.agentkeys', 'cache', 'kms');
  return readdirSync(dir).map((f) => path.join(dir, f));
}

describe('sign one event per call with a KMS key', () => {
  it('pays one Sign per event after the first call, plus one per --anchor-every events', async () => {
    const cwd = tempDir();
    const key = alias();
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', key], cwd);
    const runs = [];
    for (let i = 1; i <= 7; i++) runs.push(await signOne(cwd, key, i, ['--anchor-every', '3']));
    // Call 1 reads the key (and anchors the new log); then Sign per event, and the anchor at 4 and 7.
    expect(runs.map((r) => r.kmsRequests)).toEqual([
      { DescribeKey: 1, GetPublicKey: 1, Sign: 2 },
      { Sign: 1 },
      { Sign: 1 },
      { Sign: 2 },
      { Sign: 1 },
      { Sign: 1 },
      { Sign: 2 },
    ]);
    expect(runs.map((r) => r.anchored)).toEqual([1, 1, 1, 4, 4, 4, 7]);
    const v = JSON.parse((await ok(['--json', 'verify-audit', '--log', 'a.jsonl'], cwd)).stdout);
    expect(v).toMatchObject({ ok: true, findings: [] });
    // The cache file holds no secret, but is the operator's alone all the same.
    for (const f of cacheFiles(cwd)) expect((await import('node:fs')).statSync(f).mode & 0o777).toBe(0o600);
  });

  it('a cut past the anchor goes unseen (documented); a cut at or below it is caught by verify and sign', async () => {
    const cwd = tempDir();
    const key = alias();
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', key], cwd);
    for (let i = 1; i <= 6; i++) await signOne(cwd, key, i, ['--anchor-every', '4']);
    const lines = readFileSync(path.join(cwd, 'a.jsonl'), 'utf8').trimEnd().split('\n');
    // The anchor covers 5 events (anchored at 1, then 5): event 6 is beyond it.
    writeFileSync(path.join(cwd, 'a.jsonl'), `${lines.slice(0, 5).join('\n')}\n`);
    expect(JSON.parse((await ok(['--json', 'verify-audit', '--log', 'a.jsonl'], cwd)).stdout)).toMatchObject({
      ok: true,
    });
    writeFileSync(path.join(cwd, 'a.jsonl'), `${lines.slice(0, 4).join('\n')}\n`);
    const cut = await cli(['--json', 'verify-audit', '--log', 'a.jsonl'], cwd);
    expect(cut.code).toBe(3);
    expect(cut.stdout).toContain('"TRUNCATED"');
    const extend = await cli(
      ['sign', '--log', 'a.jsonl', '--key', `kms:${key}`, '--event-type', 't', '--actor', 'a', '--payload', '{}'],
      cwd,
    );
    expect(extend.code).not.toBe(0);
    expect(extend.stderr).toContain('LOG_DIVERGED');
  });

  it('--anchor-interval re-signs the anchor once it is old enough, whatever the count', async () => {
    const cwd = tempDir();
    const key = alias();
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', key], cwd);
    expect((await signOne(cwd, key, 1, ['--anchor-interval', '1h'])).anchored).toBe(1);
    expect((await signOne(cwd, key, 2, ['--anchor-interval', '1h'])).anchored).toBe(1);
    expect((await signOne(cwd, key, 3, ['--anchor-interval', '1s'])).anchored).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await signOne(cwd, key, 4, ['--anchor-interval', '1s'])).anchored).toBe(4);
    const conflict = await cli(
      [
        'sign',
        '--log',
        'a.jsonl',
        '--key',
        `kms:${key}`,
        '--event-type',
        't',
        '--actor',
        'a',
        '--payload',
        '{}',
        '--anchor-every',
        '2',
        '--checkpoint-every',
        '5',
      ],
      cwd,
    );
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toContain('FLAG_CONFLICT');
  });

  it('a planted public key in the cache is never published: the key is fetched from KMS first', async () => {
    const cwd = tempDir();
    const key = alias();
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', key], cwd);
    await signOne(cwd, key, 1, ['--signer-kid', 'auditor-v1']);
    // The attacker's own key goes into every cache entry; the kid auditor-v2 is not registered yet.
    const planted = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'der' })
      .toString('base64');
    for (const f of cacheFiles(cwd)) {
      const entry = JSON.parse(readFileSync(f, 'utf8'));
      writeFileSync(f, JSON.stringify({ ...entry, publicKey: planted }));
    }
    const r = await signOne(cwd, key, 2, ['--signer-kid', 'auditor-v1']);
    expect(r.kmsRequests).toMatchObject({ GetPublicKey: 1 }); // the mismatch with the registry fetched it again
    const registry = readFileSync(path.join(cwd, '.agentkeys', 'signers.json'), 'utf8');
    expect(registry).not.toContain(planted.slice(20, 60));
    expect(JSON.parse((await ok(['--json', 'verify-audit', '--log', 'a.jsonl'], cwd)).stdout)).toMatchObject({
      ok: true,
      findings: [],
    });
    // Junk in the cache is a miss, not an error.
    for (const f of cacheFiles(cwd)) writeFileSync(f, '{"v":1,"scope":');
    expect((await signOne(cwd, key, 3, ['--signer-kid', 'auditor-v1'])).kmsRequests).toMatchObject({ DescribeKey: 1 });
  });

  it('a planted ARN in the cache is never published under the alias: KMS_KEY_CACHE_MISMATCH, the entry corrected', async () => {
    const cwd = tempDir();
    const [key, other] = [alias(), alias()];
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', key], cwd);
    const otherArn = JSON.parse(
      (
        await ok(
          ['--json', 'keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', other, '--signers', 'other.json'],
          cwd,
        )
      ).stdout,
    ).keyArn as string;
    await signOne(cwd, key, 1);
    // The attacker points the alias's cache entry at another key it can sign with, whose ARN (the
    // kid by default) is not registered, so the writer would publish it.
    const [file] = cacheFiles(cwd);
    const entry = JSON.parse(readFileSync(file!, 'utf8'));
    expect(otherArn).toMatch(/^arn:aws:kms:/);
    writeFileSync(
      file!,
      JSON.stringify({ ...entry, metadata: { ...entry.metadata, Arn: otherArn }, publicKey: undefined }),
    );
    const r = await cli(
      ['--json', 'sign', '--log', 'a.jsonl', '--key', `kms:${key}`, '--event-type', 't', '--payload', '{}'],
      cwd,
    );
    expect(JSON.parse(r.stdout).error.code).toBe('KMS_KEY_CACHE_MISMATCH');
    expect(readFileSync(path.join(cwd, '.agentkeys', 'signers.json'), 'utf8')).not.toContain(otherArn);
    // The entry now says what KMS says: the next write signs with the alias's key, and all verifies.
    await signOne(cwd, key, 2);
    expect(JSON.parse((await ok(['--json', 'verify-audit', '--log', 'a.jsonl'], cwd)).stdout)).toMatchObject({
      ok: true,
      findings: [],
    });
  });

  it('AGENTKEYS_KEY_CACHE_TTL_MS=0 reads the key from KMS on every call', async () => {
    const cwd = tempDir();
    const key = alias();
    await ok(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', key], cwd);
    const env = { AGENTKEYS_KEY_CACHE_TTL_MS: '0' };
    await signOne(cwd, key, 1, [], env);
    expect((await signOne(cwd, key, 2, [], env)).kmsRequests).toEqual({ DescribeKey: 1, GetPublicKey: 1, Sign: 2 });
    const bad = await cli(
      ['sign', '--log', 'a.jsonl', '--key', `kms:${key}`, '--event-type', 't', '--actor', 'a', '--payload', '{}'],
      cwd,
      {
        AGENTKEYS_KEY_CACHE_TTL_MS: 'soon',
      },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('AGENTKEYS_KEY_CACHE_TTL_MS');
  });
});
