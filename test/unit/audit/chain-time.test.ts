// Issue 21: time the attacker cannot choose, and --kms-verify limited to the registry's keys.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChainClock } from '../../../src/audit/chain-clock.js';
import { KeyRing } from '../../../src/audit/keyring.js';
import { verifyChain } from '../../../src/audit/verify-log.js';
import { readLineChunks } from '../../../src/store/file-chunks.js';
import { amBuildChain } from '../../fixtures/agent-manager-reference.js';
import { tempDir } from '../../helpers/tmp.js';

const T0 = Date.UTC(2026, 10, 22, 19, 28, 13); // amBuildChain's first created_at; one event a second

/** The rows as a JSON Lines file. */
function logOf(rows: unknown[]): string {
  const log = path.join(tempDir(), 'a.jsonl');
  writeFileSync(log, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return log;
}

/** A key ring of one Ed25519 signer 'k', with an optional validTo. */
function ringOf(publicKey: KeyObject, slackMs: number, validTo?: number) {
  const entry = {
    signerId: 'k',
    algorithm: 'ed25519' as const,
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ...(validTo !== undefined ? { validTo: new Date(validTo).toISOString() } : {}),
  };
  return { signers: [entry], rejected: {}, hmacSecrets: {}, slackMs };
}

/** Inline and with workers, over small chunks: the findings must agree; returns the inline report. */
async function verifyBothWays(log: string, keys: ReturnType<typeof ringOf>) {
  const inline = await verifyChain(readLineChunks(log, 4096), { keys, workers: 0 });
  const parallel = await verifyChain(readLineChunks(log, 4096), { keys, workers: 2 });
  expect(parallel.findings).toEqual(inline.findings);
  return inline;
}

describe('the chain clock', () => {
  it('a retired key signing new events dated back into its window is SIGNER_NOT_VALID_AT, and the dates CREATED_AT_BACKWARDS', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const rows = amBuildChain(
      Array.from({ length: 300 }, (_, i) => ({ i, pad: 'x'.repeat(i % 40) })),
      { alg: 'ed25519', privateKey },
      'k',
    );
    // The key retired at its 200th second; events 251.. are signed later, dated back to its 10th second.
    for (const row of rows.slice(250)) row.created_at = new Date(T0 + 10_000).toISOString();
    const inline = await verifyBothWays(logOf(rows), ringOf(publicKey, 0, T0 + 200_000));
    const at = (code: string) => inline.findings.filter((f) => f.code === code).map((f) => f.index);
    // 202..250 are late by their own dates; 251.. only by the chain's clock, which the dates cannot move.
    expect(at('SIGNER_NOT_VALID_AT')[0]).toBe(202);
    expect(at('SIGNER_NOT_VALID_AT')).toContain(251);
    expect(at('CREATED_AT_BACKWARDS')[0]).toBe(251);
    expect(Math.max(...at('SIGNER_NOT_VALID_AT'))).toBeGreaterThan(290);
  });

  it('time moving forward, or back within the slack, is no finding', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const rows = amBuildChain(
      [1, 2, 3, 4].map((n) => ({ n })),
      { alg: 'ed25519', privateKey },
      'k',
    );
    rows[2]!.created_at = new Date(T0 - 30_000).toISOString(); // 30 s back: clocks of two hosts
    const report = await verifyChain(readLineChunks(logOf(rows)), { keys: ringOf(publicKey, 60_000) });
    expect(report.findings).toEqual([]);
  });

  it('compares same-length ISO times as text and parses only a step back or a new format', () => {
    const clock = new ChainClock();
    expect(clock.observe('2026-01-01T00:00:10.000Z')).toBe(0);
    expect(clock.observe('2026-01-01T00:00:11.000Z')).toBe(0);
    expect(clock.observe('2026-01-01T00:00:05.000Z')).toBe(6000);
    expect(clock.observe('2026-01-01T00:00:12Z')).toBe(0); // another format, later
    expect(clock.now).toBe(Date.parse('2026-01-01T00:00:12Z'));
    expect(clock.observe('not a time')).toBe(0);
  });
});

describe('--kms-verify checks only keys the registry lists', () => {
  const arn = (n: number) => `arn:aws:kms:us-east-1:123456789012:key/0000000${n}-0000-4000-8000-000000000000`;
  const ring = (kmsVerify: 'off' | 'all') =>
    new KeyRing({
      signers: [{ signerId: 'auditor-signing-v1', algorithm: 'ecdsa-p256', keyArn: arn(1), publicKey: PUBLIC_P256 }],
      rejected: {},
      hmacSecrets: {},
      slackMs: 0,
      kmsVerify,
    });

  it('an ARN the registry lists (by kid or by keyArn) is checked; any other ARN stays unknown', () => {
    expect(ring('all').lookup(arn(1))).toMatchObject({ ok: 'kms', keyId: arn(1) });
    expect(ring('all').lookup('auditor-signing-v1')).toMatchObject({ ok: 'kms', keyId: arn(1) });
    expect(ring('all').lookup(arn(2))).toMatchObject({ ok: false });
    expect(ring('off').lookup(arn(1))).toMatchObject({ ok: true });
    expect(ring('off').lookup(arn(2))).toMatchObject({ ok: false });
  });
});

const PUBLIC_P256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

describe('a hand-over in the chain', () => {
  it('a key that signed signer.rotated is valid for its overlap from the hand-over, whatever the registry says', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const payloads = Array.from({ length: 300 }, (_, i) =>
      i === 99 ? { new_key_arn: 'arn:aws:kms:us-east-1:1:key/new', overlap_days: 0 } : { i, pad: 'x'.repeat(i % 40) },
    );
    const rows = amBuildChain(payloads, { alg: 'ed25519', privateKey }, 'k');
    rows[99]!.event_type = 'signer.rotated';
    const inline = await verifyBothWays(logOf(rows), ringOf(publicKey, 0));
    const late = inline.findings.filter((f) => f.code === 'SIGNER_NOT_VALID_AT');
    expect(late[0]).toMatchObject({ index: 101 });
    expect(late[0]!.message).toContain('signer.rotated, event 100');
    expect(inline.findings.every((f) => f.code === 'SIGNER_NOT_VALID_AT' && f.index > 100)).toBe(true);
    expect(Math.max(...late.map((f) => f.index))).toBeGreaterThan(290); // the later chunks too
  });
});
