import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const ASYMMETRIC = ['ed25519', 'rsa-sha256', 'ecdsa-p256', 'ecdsa-secp256k1'] as const;

async function ok(args: string[], cwd: string, input?: string, env?: Record<string, string>) {
  const r = await runCli(args, { cwd, ...(input !== undefined ? { input } : {}), ...(env ? { env } : {}) });
  if (r.code !== 0) throw new Error(`agentkeys ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

function lines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('keys create --local', () => {
  for (const alg of [...ASYMMETRIC, 'hmac-sha256'] as const) {
    it(`writes a 0600 ${alg} key${alg === 'hmac-sha256' ? ' and keeps it out of signers.json' : ' and publishes its public key'}`, async () => {
      const cwd = tempDir();
      const r = await ok(['--json', 'keys', 'create', '--local', '--alg', alg, '--kid', 'k1'], cwd);
      const out = JSON.parse(r.stdout);
      expect(statSync(path.join(cwd, out.keyFile)).mode & 0o777).toBe(0o600);
      const signersPath = path.join(cwd, '.agentkeys/signers.json');
      if (alg === 'hmac-sha256') expect(existsSync(signersPath)).toBe(false);
      else
        expect(JSON.parse(readFileSync(signersPath, 'utf8')).signers[0]).toMatchObject({
          signerId: 'k1',
          algorithm: alg,
        });
      expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    });
  }

  it('refuses to overwrite an existing key (KEY_EXISTS, exit 2)', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    const r = await runCli(['--json', 'keys', 'create', '--local', '--alg', 'rsa-sha256', '--kid', 'k1'], { cwd });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe('KEY_EXISTS');
  });

  it('rejects an unknown algorithm with a hint (exit 2)', async () => {
    const r = await runCli(['keys', 'create', '--local', '--alg', 'dsa', '--kid', 'k1'], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/UNKNOWN_ALGORITHM/);
    expect(r.stderr).toMatch(/→ use one of/);
  });
});

describe('sign and verify-audit round trip', () => {
  for (const alg of [...ASYMMETRIC, 'hmac-sha256'] as const) {
    it(`${alg}: signed events verify, and --json prints only JSON`, async () => {
      const cwd = tempDir();
      await ok(['keys', 'create', '--local', '--alg', alg, '--kid', 'k1'], cwd);
      await ok(
        [
          'sign',
          '--log',
          'audit.jsonl',
          '--key',
          'local:k1',
          '--event-type',
          'agent_spawned',
          '--actor',
          'agent-manager',
          '--payload',
          '{"action":"spawn"}',
        ],
        cwd,
      );
      const batch = [
        '{"event_type":"a","payload":{"n":1}}',
        '{"event_type":"b","actor_id":"x","payload":[1,"😀"]}',
      ].join('\n');
      await ok(['sign', '--log', 'audit.jsonl', '--key', 'local:k1', '--batch'], cwd, batch);
      const hmac = alg === 'hmac-sha256' ? ['--hmac-key', 'k1=.agentkeys/keys/k1.secret'] : [];
      const r = await ok(['verify-audit', '--json', '--log', 'audit.jsonl', ...hmac], cwd);
      const report = JSON.parse(r.stdout);
      expect(report).toMatchObject({ ok: true, events: 3, findings: [], anchor: { events: 3 } });
      expect(report.head).toMatch(/^[0-9a-f]{64}$/);
      const rows = lines(path.join(cwd, 'audit.jsonl'));
      expect(Object.keys(rows[0]!)).toEqual([
        'id',
        'actor_id',
        'event_type',
        'payload',
        'signature',
        'signer_kid',
        'prev_hash',
        'created_at',
      ]);
      expect(rows[0]!.prev_hash).toBeNull();
    });
  }

  it('says plainly which fields the signature does not cover', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    await ok(['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{}'], cwd);
    const r = await ok(['verify-audit', '--log', 'a.jsonl'], cwd);
    expect(r.stdout).toMatch(/actor_id, event_type and created_at .* not covered/);
  });
});

describe('sign refuses what would not verify', () => {
  const cases: [string, string, string][] = [
    ['a lone surrogate', '{"s":"\\ud800"}', 'PAYLOAD_NOT_IJSON'],
    ['an integer beyond 2^53', '{"n":9007199254740993}', 'PAYLOAD_NOT_IJSON'],
    ['a duplicate key', '{"a":1,"a":2}', 'PAYLOAD_NOT_IJSON'],
    ['text that is not JSON', '{nope}', 'PAYLOAD_NOT_JSON'],
  ];
  for (const [what, payload, code] of cases) {
    it(`${what}: ${code}, exit 2, nothing written`, async () => {
      const cwd = tempDir();
      await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
      const r = await runCli(
        ['--json', 'sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', payload],
        { cwd },
      );
      expect(r.code).toBe(2);
      expect(JSON.parse(r.stdout).error.code).toBe(code);
      expect(existsSync(path.join(cwd, 'a.jsonl'))).toBe(false);
    });
  }

  it('a batch with one bad line signs nothing (BATCH_INVALID)', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    const r = await runCli(
      ['--json', 'sign', '--log', 'a.jsonl', '--key', 'local:k1', '--batch', '--event-type', 't'],
      { cwd, input: '{"payload":{}}\n{"payload":{"n":1e400}}\n{"oops":1}\n' },
    );
    expect(r.code).toBe(2);
    const err = JSON.parse(r.stdout).error;
    expect(err.code).toBe('BATCH_INVALID');
    expect(err.details).toHaveLength(2); // 1e400 is not finite; "oops" is not a field
    expect(existsSync(path.join(cwd, 'a.jsonl'))).toBe(false);
  });

  it('accepts 1e21 and 1e-7 (exact doubles) and verifies them', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    await ok(
      ['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{"big":1e21,"small":1e-7}'],
      cwd,
    );
    expect((await runCli(['verify-audit', '--log', 'a.jsonl'], { cwd })).code).toBe(0);
  });
});

describe('seed environment names', () => {
  it('signs with AUDIT_SIGNING_PRIVATE_KEY (one-line PEM with \\n) and AUDIT_SIGNER_KID', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'am'], cwd);
    const pem = readFileSync(path.join(cwd, '.agentkeys/keys/am.pem'), 'utf8').trim().replace(/\n/g, '\\n');
    await ok(['sign', '--log', 'a.jsonl', '--event-type', 't', '--payload', '{}'], cwd, undefined, {
      AUDIT_SIGNING_PRIVATE_KEY: pem,
      AUDIT_SIGNER_KID: 'am',
      AUDIT_SIGNING_ALG: 'Ed25519',
    });
    expect(lines(path.join(cwd, 'a.jsonl'))[0]!.signer_kid).toBe('am');
    expect((await runCli(['verify-audit', '--log', 'a.jsonl'], { cwd })).code).toBe(0);
  });

  it('signs HMAC with AUDIT_SIGNING_PRIVATE_KEY as the UTF-8 secret', async () => {
    const cwd = tempDir();
    await ok(['sign', '--log', 'a.jsonl', '--event-type', 't', '--payload', '{}'], cwd, undefined, {
      AUDIT_SIGNING_PRIVATE_KEY: 's3cret',
      AUDIT_SIGNING_ALG: 'hmac-sha256',
    });
    writeFileSync(path.join(cwd, 's.txt'), 's3cret\n');
    const r = await runCli(['verify-audit', '--json', '--log', 'a.jsonl', '--hmac-key', 'local=s.txt'], { cwd });
    expect(JSON.parse(r.stdout).ok).toBe(true);
  });

  it('uses AUDIT_SIGNING_KEY_PATH with the file name as kid', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'rsa-sha256', '--kid', 'rsa1'], cwd);
    await ok(['sign', '--log', 'a.jsonl', '--event-type', 't', '--payload', '{}'], cwd, undefined, {
      AUDIT_SIGNING_KEY_PATH: '.agentkeys/keys/rsa1.pem',
    });
    expect(lines(path.join(cwd, 'a.jsonl'))[0]!.signer_kid).toBe('rsa1');
  });

  it('REQUIRE_KMS=true refuses local keys (LOCAL_KEY_REFUSED, exit 2)', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    const r = await runCli(
      ['--json', 'sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{}'],
      { cwd, env: { REQUIRE_KMS: 'true' } },
    );
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe('LOCAL_KEY_REFUSED');
  });

  it('AUDIT_SIGNING_ALG that does not match the key is KEY_ALG_MISMATCH', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    const r = await runCli(
      ['--json', 'sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{}'],
      { cwd, env: { AUDIT_SIGNING_ALG: 'rsa-sha256' } },
    );
    expect(JSON.parse(r.stdout).error.code).toBe('KEY_ALG_MISMATCH');
  });

  it('lists every config problem at once (CONFIG_INVALID, exit 2)', async () => {
    const r = await runCli(['--json', 'sign', '--log', 'a.jsonl', '--event-type', 't', '--payload', '{}'], {
      cwd: tempDir(),
      env: { REQUIRE_KMS: 'maybe', AUDIT_SIGNING_ALG: 'dsa', AUDIT_SIGNING_KEY_SOURCE: 'vault' },
    });
    expect(r.code).toBe(2);
    const err = JSON.parse(r.stdout).error;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.details).toHaveLength(3);
  });

  it('DEV_ALLOW_EPHEMERAL signs under an ephemeral kid whose public key is registered', async () => {
    const cwd = tempDir();
    await ok(['sign', '--log', 'a.jsonl', '--event-type', 't', '--payload', '{}'], cwd, undefined, {
      DEV_ALLOW_EPHEMERAL: 'true',
    });
    expect(String(lines(path.join(cwd, 'a.jsonl'))[0]!.signer_kid)).toMatch(/^ephemeral-/);
    expect((await runCli(['verify-audit', '--log', 'a.jsonl'], { cwd })).code).toBe(0);
  });

  it('with no key at all: SIGNING_KEY_MISSING with the command that creates one', async () => {
    const r = await runCli(['sign', '--log', 'a.jsonl', '--event-type', 't', '--payload', '{}'], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SIGNING_KEY_MISSING/);
    expect(r.stderr).toMatch(/agentkeys keys create --local/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack without --debug
  });
});

describe('verify-audit on damaged logs', () => {
  async function signed(n: number) {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    const batch = Array.from({ length: n }, (_, i) => JSON.stringify({ event_type: 't', payload: { i } })).join('\n');
    await ok(['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--batch'], cwd, batch);
    return { cwd, log: path.join(cwd, 'a.jsonl') };
  }
  const verifyJson = async (cwd: string, extra: string[] = []) => {
    const r = await runCli(['verify-audit', '--json', '--log', 'a.jsonl', ...extra], { cwd });
    return { code: r.code, report: JSON.parse(r.stdout) };
  };

  it('a dropped tail is TRUNCATED against the signed anchor (exit 3)', async () => {
    const { cwd, log } = await signed(6);
    writeFileSync(log, readFileSync(log, 'utf8').trim().split('\n').slice(0, 4).join('\n') + '\n');
    const { code, report } = await verifyJson(cwd);
    expect(code).toBe(3);
    expect(report.findings.map((f: { code: string; index: number }) => [f.index, f.code])).toEqual([[5, 'TRUNCATED']]);
  });

  it('a forged anchor is ANCHOR_INVALID', async () => {
    const { cwd, log } = await signed(3);
    const anchor = JSON.parse(readFileSync(`${log}.anchor.json`, 'utf8'));
    writeFileSync(`${log}.anchor.json`, JSON.stringify({ ...anchor, events: 2 }));
    expect((await verifyJson(cwd)).report.findings[0].code).toBe('ANCHOR_INVALID');
  });

  it('malformed lines are findings with their index, never a crash', async () => {
    const { cwd, log } = await signed(6);
    const rows = readFileSync(log, 'utf8').trim().split('\n');
    rows[1] = '{not json';
    const r3 = JSON.parse(rows[2]!);
    rows[2] = JSON.stringify({ ...r3, signature: 'abc!' });
    const r4 = JSON.parse(rows[3]!);
    rows[3] = JSON.stringify({ ...r4, signature: Buffer.alloc(10).toString('base64') });
    const r5 = JSON.parse(rows[4]!);
    rows[4] = JSON.stringify({ ...r5, prev_hash: 'zz' });
    writeFileSync(log, rows.join('\n') + '\n');
    const { code, report } = await verifyJson(cwd, ['--no-anchor']);
    expect(code).toBe(3);
    expect(report.findings.map((f: { code: string; index: number }) => [f.index, f.code])).toEqual([
      [2, 'MALFORMED_ROW'],
      [3, 'MALFORMED_ROW'],
      [4, 'SIGNATURE_INVALID'],
      [5, 'MALFORMED_ROW'],
    ]);
  });

  it('unknown and unsigned signers are reported, every one', async () => {
    const { cwd, log } = await signed(3);
    const rows = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    rows[0].signature = null;
    rows[2].signer_kid = 'ghost';
    writeFileSync(log, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const { report } = await verifyJson(cwd, ['--no-anchor']);
    expect(report.findings.map((f: { code: string }) => f.code)).toEqual(['UNSIGNED', 'UNKNOWN_SIGNER']);
  });

  it('a registry entry with an unknown algorithm becomes a finding for its events', async () => {
    const { cwd } = await signed(2);
    const reg = JSON.parse(readFileSync(path.join(cwd, '.agentkeys/signers.json'), 'utf8'));
    reg.signers[0].algorithm = 'quantum-sig';
    writeFileSync(path.join(cwd, '.agentkeys/signers.json'), JSON.stringify(reg));
    const { code, report } = await verifyJson(cwd);
    expect(code).toBe(3);
    expect(report.findings.map((f: { code: string }) => f.code)).toEqual([
      'ANCHOR_INVALID',
      'UNKNOWN_SIGNER',
      'UNKNOWN_SIGNER',
    ]);
    expect(report.registryWarnings[0]).toMatch(/quantum-sig/);
  });

  it('a signer used outside its validity window is SIGNER_NOT_VALID_AT', async () => {
    const { cwd } = await signed(2);
    const file = path.join(cwd, '.agentkeys/signers.json');
    const reg = JSON.parse(readFileSync(file, 'utf8'));
    reg.signers[0].validTo = '2020-01-01T00:00:00Z';
    writeFileSync(file, JSON.stringify(reg));
    const { report } = await verifyJson(cwd, ['--no-anchor']);
    expect(report.findings.map((f: { code: string }) => f.code)).toEqual([
      'SIGNER_NOT_VALID_AT',
      'SIGNER_NOT_VALID_AT',
    ]);
  });

  it('exit 1 when the log cannot be read, exit 2 on a bad flag', async () => {
    const cwd = tempDir();
    expect((await runCli(['verify-audit', '--log', 'missing.jsonl'], { cwd })).code).toBe(1);
    expect((await runCli(['verify-audit', '--log', 'a.jsonl', '--bogus'], { cwd })).code).toBe(2);
    expect((await runCli(['verify-audit', '--log', 'a.jsonl', '--from', 'xyz'], { cwd })).code).toBe(2);
  });
});

describe('concurrent writers', () => {
  it('six sign processes appending at once produce one valid chain', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    const writers = Array.from({ length: 6 }, (_, w) => {
      const batch = Array.from({ length: 5 }, (_, i) => JSON.stringify({ event_type: 't', payload: { w, i } })).join(
        '\n',
      );
      return Promise.all([
        ok(['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--batch'], cwd, batch),
        ok(
          [
            'sign',
            '--log',
            'a.jsonl',
            '--key',
            'local:k1',
            '--event-type',
            'single',
            '--payload',
            JSON.stringify({ w }),
          ],
          cwd,
        ),
      ]);
    });
    await Promise.all(writers);
    const r = await runCli(['verify-audit', '--json', '--log', 'a.jsonl'], { cwd });
    const report = JSON.parse(r.stdout);
    expect(report.findings).toEqual([]);
    expect(report.events).toBe(36);
    expect(report.anchor.events).toBe(36);
  });
});
