// Issue 23: a log an attacker wrote ends in findings with an index and a code, never INTERNAL or
// a crashed worker, in memory that does not grow with the input: rows nested thousands deep, a
// file of garbage lines, a line of tens of MiB, duplicate members where a signature hangs on them,
// and random bytes and random deep JSON (a property test, bounded in time).
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { problemCount, type Finding } from '../../../src/audit/findings.js';
import { verifyAuditLog } from '../../../src/store/verify.js';
import { readPolicyFile } from '../../../src/evm/policy.js';
import { verifyInclusionBundle } from '../../../src/audit/proof.js';
import { amBuildChain } from '../../fixtures/agent-manager-reference.js';
import { tempDir } from '../../helpers/tmp.js';

const ed = generateKeyPairSync('ed25519');
const KID = 'am-ed-1';

function fixture(payloads: unknown[] = [{ n: 1 }, { n: 2 }, { n: 3 }]) {
  const dir = tempDir();
  const signers = path.join(dir, 'signers.json');
  writeFileSync(
    signers,
    JSON.stringify({
      signers: [
        { signerId: KID, algorithm: 'Ed25519', publicKey: ed.publicKey.export({ type: 'spki', format: 'pem' }) },
      ],
    }),
  );
  const lines = amBuildChain(payloads, { alg: 'ed25519', privateKey: ed.privateKey }, KID).map((r) =>
    JSON.stringify(r),
  );
  const log = path.join(dir, 'audit.jsonl');
  const write = (ls: string[]) => writeFileSync(log, ls.join('\n') + '\n');
  write(lines);
  const verify = (workers = 0, extra: Partial<Parameters<typeof verifyAuditLog>[0]> = {}) =>
    verifyAuditLog({ log, signersPath: signers, hmacKeyFiles: {}, slackMs: 0, workers, anchor: false, ...extra });
  return { dir, log, lines, write, verify };
}

const codes = (findings: Finding[]) => findings.map((f) => `${f.index}:${f.code}`);

describe('hostile logs end in findings', () => {
  it('a row nested 3,000 levels deep is TOO_DEEP, on the calling thread and in a worker', async () => {
    const f = fixture();
    const deep = '['.repeat(3000) + ']'.repeat(3000);
    f.write([f.lines[0]!, f.lines[1]!.replace('{"n":2}', deep), f.lines[2]!]);
    for (const workers of [0, 2]) {
      const r = await f.verify(workers);
      expect(r.ok).toBe(false);
      expect(codes(r.findings)).toContain('2:TOO_DEEP');
    }
  });

  it('150,000 garbage lines: the first 1,000 listed, the rest counted by code (FINDINGS_OMITTED)', async () => {
    const f = fixture();
    f.write([f.lines[0]!, ...Array.from({ length: 150_000 }, () => 'x')]);
    for (const workers of [0, 2]) {
      const r = await f.verify(workers);
      expect(r.events).toBe(150_001);
      expect(r.findings.length).toBe(1001);
      expect(r.findings.at(-1)).toMatchObject({ code: 'FINDINGS_OMITTED', omitted: { MALFORMED_ROW: 149_000 } });
      expect(problemCount(r.findings)).toBe(150_000);
    }
  });

  it('a 20 MiB line is LINE_TOO_LONG, skipped unread; the events after it are still verified', async () => {
    const f = fixture();
    const forged = JSON.parse(f.lines[2]!) as { payload: unknown };
    forged.payload = { n: 999 }; // a tampered event after the long line: its signature must still be checked
    writeFileSync(f.log, `${f.lines[0]}\n`);
    appendFileSync(f.log, `{"id":"${'a'.repeat(20 << 20)}"}\n`);
    appendFileSync(f.log, `${JSON.stringify(forged)}\n`);
    const r = await f.verify();
    expect(codes(r.findings)).toEqual(['2:LINE_TOO_LONG', '3:SIGNATURE_INVALID']);
    expect(r.findings[0]!.message).toContain(String((20 << 20) + 9));
  });

  it('a member twice, in the row or in its payload, is DUPLICATE_MEMBER even where the last value is the signed one', async () => {
    const f = fixture([{ amount: 1000 }, { n: 2 }]);
    // JSON.parse keeps the last "amount" (1000, what was signed); a reader that keeps the first sees 1.
    const payloadDup = f.lines[0]!.replace('{"amount":1000}', '{"amount":1,"amount":1000}');
    const rowDup = f.lines[1]!.replace('"event_type":', '"event_type":"decoy","event_type":');
    f.write([payloadDup, rowDup]);
    const r = await f.verify();
    expect(codes(r.findings)).toEqual(['1:DUPLICATE_MEMBER', '2:DUPLICATE_MEMBER']);
    // Escaped quotes and colons inside strings are not members: an honest row verifies.
    const tricky = fixture([{ 'k\\":"': 'v":"\\"', list: ['a:b', { c: '"' }] }]);
    expect((await tricky.verify()).findings).toEqual([]);
  });
});

describe('duplicate members where a key or a signature hangs on them', () => {
  const pem = (k: ReturnType<typeof generateKeyPairSync>['publicKey']) =>
    k.export({ type: 'spki', format: 'pem' }).toString();
  const other = generateKeyPairSync('ed25519');

  it('signers.json naming one kid twice: a flat map is REGISTRY_INVALID; an array disables the kid', async () => {
    const f = fixture();
    const signers = path.join(f.dir, 'signers.json');
    // {"kid": PEM1, "kid": PEM2}: JSON.parse would keep the last silently.
    writeFileSync(
      signers,
      `{${JSON.stringify(KID)}:${JSON.stringify(pem(ed.publicKey))},${JSON.stringify(KID)}:${JSON.stringify(pem(other.publicKey))}}`,
    );
    await expect(f.verify()).rejects.toMatchObject({ code: 'REGISTRY_INVALID' });
    writeFileSync(
      signers,
      JSON.stringify({
        signers: [
          { signerId: KID, algorithm: 'Ed25519', publicKey: pem(ed.publicKey) },
          { signerId: KID, algorithm: 'Ed25519', publicKey: pem(other.publicKey) },
        ],
      }),
    );
    const r = await f.verify();
    expect(codes(r.findings)).toEqual(['1:UNKNOWN_SIGNER', '2:UNKNOWN_SIGNER', '3:UNKNOWN_SIGNER']);
    expect(r.findings[0]!.message).toContain('listed twice with different keys');
  });

  it('--hmac-key never replaces a registry key of another algorithm (HMAC_KEY_CONFLICT)', async () => {
    const f = fixture();
    const secret = path.join(f.dir, 'hmac.secret');
    writeFileSync(secret, 'guessable\n');
    await expect(f.verify(0, { hmacKeyFiles: { [KID]: secret } })).rejects.toMatchObject({ code: 'HMAC_KEY_CONFLICT' });
  });

  it('an anchor file or a policy naming a member twice is refused', async () => {
    const f = fixture();
    const anchor = path.join(f.dir, 'anchor.json');
    writeFileSync(
      anchor,
      '{"format":"agentkeys-anchor/v1","events":3,"events":1,"head":"","signer_kid":"","updated_at":"","signature":""}',
    );
    const r = await f.verify(0, { anchor });
    expect(r.findings).toEqual([
      expect.objectContaining({ code: 'ANCHOR_INVALID', message: expect.stringContaining('"events" twice') }),
    ]);
    const policy = path.join(f.dir, 'policy.json');
    writeFileSync(policy, '{"version":1,"maxValueWei":"0","maxValueWei":"1000000000000000000000"}');
    await expect(readPolicyFile(policy)).rejects.toMatchObject({ code: 'POLICY_INVALID' });
    expect(() => verifyInclusionBundle('{"leaf_index":1,"leaf_index":2}', () => undefined)).toThrow(
      expect.objectContaining({ code: 'PROOF_MALFORMED', message: expect.stringContaining('"leaf_index" twice') }),
    );
  });
});

describe('anchors are domain-separated from events', () => {
  it("a genesis event's signature over anchor-shaped JSON never verifies as a v2 anchor; v1 (which it would) is a notice", async () => {
    const f = fixture();
    const verifyWith = (anchor: string) => f.verify(0, { anchor });
    const head = (await f.verify()).head!;
    // The writer signs whatever payload it is given: here one shaped like an anchor of the log.
    for (const format of ['agentkeys-anchor/v2', 'agentkeys-anchor/v1']) {
      const fields = { format, events: 3, head, signer_kid: KID, updated_at: '2026-12-06T00:00:00.000Z' };
      const [genesis] = amBuildChain([fields], { alg: 'ed25519', privateKey: ed.privateKey }, KID);
      const forged = path.join(f.dir, `forged-${format.slice(-2)}.json`);
      writeFileSync(forged, JSON.stringify({ ...fields, signature: genesis!.signature }));
      const r = await verifyWith(forged);
      if (format.endsWith('v2')) expect(codes(r.findings)).toEqual(['0:ANCHOR_INVALID']);
      // v1 signed the same bytes as that genesis event: it verifies, and is flagged for rewriting.
      else expect([r.ok, codes(r.findings)]).toEqual([true, ['0:ANCHOR_LEGACY']]);
    }
  });
});

describe('property: no input ends in INTERNAL', () => {
  // A seeded generator: the same cases every run, so a failure reproduces.
  let state = 0x9e3779b9;
  const rand = (n: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  const randomJson = (depth: number): string => {
    const k = rand(depth > 0 ? 7 : 4);
    if (k === 0) return String(rand(1000) - 500);
    if (k === 1) return JSON.stringify(String.fromCharCode(rand(0x10000)));
    if (k === 2) return ['true', 'null', '1e999', '-0'][rand(4)]!;
    if (k === 3) return '"\\ud800"';
    if (k <= 5) return `[${Array.from({ length: rand(3) }, () => randomJson(depth - 1)).join(',')}]`;
    const key = ['id', 'payload', 'a', 'a', '__proto__', 'prev_hash'][rand(6)]!;
    return `{"${key}":${randomJson(depth - 1)}}`;
  };

  it('random bytes, random JSON and random nesting (400 logs) each end in a report', async () => {
    const f = fixture();
    for (let i = 0; i < 400; i++) {
      const lines = [...f.lines];
      const at = rand(lines.length + 1);
      const kind = rand(4);
      let line: string;
      if (kind === 0) line = Buffer.from(Array.from({ length: rand(200) }, () => rand(256))).toString('latin1');
      else if (kind === 1) line = randomJson(6);
      else if (kind === 2) line = '{"payload":'.repeat(rand(5000)) + '1' + '}'.repeat(rand(5000));
      else line = lines[rand(lines.length)]!.slice(0, rand(300));
      lines.splice(at, 0, line.replace(/\n/g, ' '));
      f.write(lines);
      const r = await f.verify();
      expect(typeof r.ok).toBe('boolean');
      expect(r.findings.every((x) => x.code !== ('INTERNAL' as string))).toBe(true);
    }
  }, 120_000);
});
