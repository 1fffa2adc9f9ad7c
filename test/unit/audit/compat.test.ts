import { generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { digestRow } from '../../../src/audit/record.js';
import { LocalKeySigner } from '../../../src/signing/signer.js';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyAuditLog } from '../../../src/store/verify.js';
import { canonicalJson } from '../../../src/audit/canonical.js';
import {
  amBuildChain,
  amCanonicalize,
  EDGE_CASE_PAYLOADS,
  type AmKey,
  type AmRow,
} from '../../fixtures/agent-manager-reference.js';
import { tempDir } from '../../helpers/tmp.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const HMAC_SECRET = 'agent-manager-dev-secret';

const CHAINS: { name: string; key: AmKey; kid: string; publicPem?: string; algorithm: string }[] = [
  {
    name: 'RSA-2048',
    key: { alg: 'rsa-sha256', privateKey: rsa.privateKey },
    kid: 'auditor-signing-v1',
    publicPem: rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    algorithm: 'rsa-sha256',
  },
  // Their build script writes "Ed25519", which their own verifier rejected (format doc §6).
  {
    name: 'Ed25519',
    key: { alg: 'ed25519', privateKey: ed.privateKey },
    kid: 'am-ed-1',
    publicPem: ed.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    algorithm: 'Ed25519',
  },
  { name: 'HMAC', key: { alg: 'hmac-sha256', secret: HMAC_SECRET }, kid: 'local', algorithm: 'hmac-sha256' },
];

interface Fixture {
  dir: string;
  log: string;
  signers: string;
  hmac: Record<string, string>;
  rows: AmRow[];
}

function writeFixture(
  chain: (typeof CHAINS)[number],
  rows = amBuildChain(EDGE_CASE_PAYLOADS, chain.key, chain.kid),
): Fixture {
  const dir = tempDir();
  const log = path.join(dir, 'audit.jsonl');
  writeFileSync(log, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const signers = path.join(dir, 'signers.json');
  const entries = chain.publicPem
    ? [{ signerId: chain.kid, algorithm: chain.algorithm, publicKey: chain.publicPem }]
    : [];
  writeFileSync(signers, JSON.stringify({ signers: entries }));
  const hmac: Record<string, string> = {};
  if (chain.key.alg === 'hmac-sha256') {
    hmac[chain.kid] = path.join(dir, 'hmac.secret');
    writeFileSync(hmac[chain.kid]!, `${HMAC_SECRET}\n`);
  }
  return { dir, log, signers, hmac, rows };
}

function rewrite(f: Fixture, rows: AmRow[]): void {
  writeFileSync(f.log, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

const verify = (f: Fixture, extra: Partial<Parameters<typeof verifyAuditLog>[0]> = {}) =>
  verifyAuditLog({ log: f.log, signersPath: f.signers, hmacKeyFiles: f.hmac, slackMs: 0, workers: 0, ...extra });

describe('Agent Manager compatibility', () => {
  it('canonical form equals their canonicalize() on every edge-case payload', () => {
    for (const p of EDGE_CASE_PAYLOADS) expect(canonicalJson(p as never)).toBe(amCanonicalize(p));
    expect(canonicalJson(JSON.parse('{"big":1e21,"small":1e-7}'))).toBe('{"big":1e+21,"small":1e-7}');
    expect(canonicalJson({ t: '\u2028' })).toBe('{"t":"\u2028"}');
    expect(canonicalJson({ '😀': 1, '｡': 2 })).toBe('{"😀":1,"｡":2}'); // UTF-16 order, not UTF-8 byte order
    expect(canonicalJson({ s: 'caf\u00e9' })).not.toBe(canonicalJson({ s: 'cafe\u0301' })); // no normalisation
  });

  for (const chain of CHAINS) {
    describe(`${chain.name} chain written by their signer`, () => {
      it('verifies unchanged', async () => {
        const f = writeFixture(chain);
        const report = await verify(f);
        expect(report.findings).toEqual([]);
        expect(report.ok).toBe(true);
        expect(report.events).toBe(EDGE_CASE_PAYLOADS.length);
      });

      it('verifies the same with worker threads', async () => {
        const f = writeFixture(chain);
        const report = await verify(f, { workers: 2 });
        expect(report.ok).toBe(true);
      });

      it('reports a changed payload as SIGNATURE_INVALID and the next link as PREV_HASH_MISMATCH', async () => {
        const f = writeFixture(chain);
        const rows = structuredClone(f.rows);
        rows[3]!.payload = { tampered: true };
        rewrite(f, rows);
        const report = await verify(f);
        expect(report.findings.map((x) => [x.index, x.code])).toEqual([
          [4, 'SIGNATURE_INVALID'],
          [5, 'PREV_HASH_MISMATCH'],
        ]);
        expect(report.findings[0]!.id).toBe(rows[3]!.id);
      });

      it('reports a flipped prev_hash', async () => {
        const f = writeFixture(chain);
        const rows = structuredClone(f.rows);
        const prev = rows[5]!.prev_hash!;
        rows[5]!.prev_hash = (prev[0] === '0' ? '1' : '0') + prev.slice(1);
        rewrite(f, rows);
        const codes = (await verify(f)).findings.map((x) => [x.index, x.code]);
        // Its own signature covers prev_hash, and the next row links to the real digest.
        expect(codes).toEqual([
          [6, 'PREV_HASH_MISMATCH'],
          [6, 'SIGNATURE_INVALID'],
          [7, 'PREV_HASH_MISMATCH'],
        ]);
      });

      it('reports a flipped signature', async () => {
        const f = writeFixture(chain);
        const rows = structuredClone(f.rows);
        const sig = Buffer.from(rows[2]!.signature!, 'base64');
        sig[sig.length - 1]! ^= 1;
        rows[2]!.signature = sig.toString('base64');
        rewrite(f, rows);
        expect((await verify(f)).findings.map((x) => [x.index, x.code])).toEqual([[3, 'SIGNATURE_INVALID']]);
      });

      it('reports a deleted event in the middle as ORPHAN (its successor links to nothing in the log)', async () => {
        const f = writeFixture(chain);
        const rows = structuredClone(f.rows);
        rows.splice(4, 1);
        rewrite(f, rows);
        const report = await verify(f);
        expect(report.findings.map((x) => [x.index, x.code])).toEqual([[5, 'ORPHAN']]);
        expect(report.findings[0]!.linksTo).toBe(rows[4]!.prev_hash);
      });

      it('reports a dropped head as GENESIS_NOT_NULL, unless a trusted start is given', async () => {
        const f = writeFixture(chain);
        rewrite(f, f.rows.slice(2));
        expect((await verify(f)).findings.map((x) => x.code)).toEqual(['GENESIS_NOT_NULL']);
        const trusted = await verify(f, { trustedStart: f.rows[2]!.prev_hash! });
        expect(trusted.ok).toBe(true);
      });
    });
  }

  it('a dropped tail passes without an anchor: Agent Manager rows carry none (agentkeys logs do, see cli tests)', async () => {
    const f = writeFixture(CHAINS[1]!);
    rewrite(f, f.rows.slice(0, -2));
    const report = await verify(f);
    expect(report.ok).toBe(true);
    expect(report.anchor).toBeNull();
  });

  it('accepts the algorithm name in any case', async () => {
    const f = writeFixture(CHAINS[0]!);
    writeFileSync(
      f.signers,
      JSON.stringify({
        signers: [
          {
            signer_kid: 'auditor-signing-v1',
            algorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
            public_key_pem: CHAINS[0]!.publicPem,
          },
        ],
      }),
    );
    expect((await verify(f)).ok).toBe(true);
  });

  it("agentkeys RSA signatures are byte-identical to Agent Manager's and to plain RSA-SHA256 over canonical ‖ prev bytes", async () => {
    const rows = amBuildChain([{ a: 1 }, { b: 2 }], { alg: 'rsa-sha256', privateKey: rsa.privateKey }, 'k');
    const row = rows[1]!;
    const signed = digestRow(row.payload as never, row.prev_hash);
    const ours = await new LocalKeySigner('k', rsa.privateKey, 'test key').sign(signed.digest);
    expect(ours.toString('base64')).toBe(row.signature); // RSA PKCS#1 v1.5 is deterministic
    expect(ours.equals(cryptoSign('sha256', signed.message, rsa.privateKey))).toBe(true); // what openssl dgst -sha256 -sign gives
    expect(cryptoVerify('sha256', signed.message, rsa.publicKey, ours)).toBe(true);
  });
});
