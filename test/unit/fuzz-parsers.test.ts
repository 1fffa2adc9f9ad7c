// Issue 23: a fuzz target for each parser of untrusted input, run for a bounded number of cases
// in `npm test`: rows, signer registries, env files, checkpoint notes and texts, anchors, proof
// bundles, EVM policies, sentinel envelopes, batches. Each input, random or a mutation of a valid
// one, ends in a value or a named agentkeys error (or a row format error): never a TypeError, a
// RangeError or a stack overflow. Seeded, so a failure reproduces.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { parseAnchor } from '../../src/audit/anchor.js';
import { parseCheckpointText, parseNote } from '../../src/audit/checkpoint.js';
import { parseBatch } from '../../src/audit/event-input.js';
import { verifyInclusionBundle } from '../../src/audit/proof.js';
import { parseRowLine, RowFormatError } from '../../src/audit/record.js';
import { parseEnvFile } from '../../src/config/env-file.js';
import { parseSentinelEnvelope } from '../../src/crypto/envelope.js';
import { isAgentkeysError } from '../../src/errors.js';
import { parsePolicy } from '../../src/evm/policy.js';
import { parseSignerRegistryLenient } from '../../src/signing/registry.js';
import { findVerificationLink } from '../../src/setup/mail.js';
import { parseJwks } from '../../src/signing/jwt-publish.js';

const CASES = 1500;
let state = 0x1234567;
const rand = (n: number) => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state % n;
};
const ALPHABET = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ':',
  ',',
  '\\',
  '\n',
  ' ',
  'a',
  '0',
  '-',
  '=',
  '$',
  '—',
  '\u0000',
  '\ud800',
  'é',
];

/** A mutation of seed text: cut, duplicated span, swapped bytes, inserted tokens, or deep nesting. */
function mutate(seed: string): string {
  const op = rand(6);
  const at = rand(seed.length + 1);
  if (op === 0) return seed.slice(0, at);
  if (op === 1) return seed.slice(0, at) + seed.slice(rand(seed.length + 1));
  if (op === 2) return seed.slice(0, at) + seed.slice(at, at + rand(40)).repeat(2 + rand(3)) + seed.slice(at);
  if (op === 3)
    return (
      seed.slice(0, at) +
      Array.from({ length: 1 + rand(8) }, () => ALPHABET[rand(ALPHABET.length)]).join('') +
      seed.slice(at)
    );
  if (op === 4) return '['.repeat(rand(5000)) + seed + ']'.repeat(rand(5000));
  return Array.from({ length: rand(300) }, () => String.fromCharCode(rand(0x10000))).join('');
}

function survives(name: string, seeds: string[], parse: (text: string) => unknown): void {
  for (let i = 0; i < CASES; i++) {
    const input = i < seeds.length ? seeds[i]! : mutate(seeds[rand(seeds.length)]!);
    try {
      parse(input);
    } catch (err) {
      if (isAgentkeysError(err) || err instanceof RowFormatError) continue;
      throw new Error(
        `${name}: ${(err as Error).name}: ${(err as Error).message} on ${JSON.stringify(input.slice(0, 200))}`,
      );
    }
  }
}

const ed = generateKeyPairSync('ed25519');
const pem = ed.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ROW =
  '{"id":"e1","actor_id":"a","event_type":"t","payload":{"k":[1,"x",{"n":null}]},"signature":"AAAA",' +
  '"signer_kid":"k1","prev_hash":null,"created_at":"2026-12-06T00:00:00.000Z"}';
const NOTE =
  'agentkeys.local/a-12345678\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— agentkeys.local/a-12345678 AAAAAQAAAA==\n';

describe('fuzz: every parser of untrusted input ends in a value or a named error', () => {
  it(`rows, registries, env files, notes, anchors, proofs, policies, envelopes, batches (${CASES} cases each)`, () => {
    survives('row', [ROW], (t) => parseRowLine(t));
    survives(
      'registry',
      [
        JSON.stringify({ signers: [{ signerId: 'k1', algorithm: 'Ed25519', publicKey: pem }] }),
        JSON.stringify({ k1: pem }),
      ],
      (t) => parseSignerRegistryLenient(t, 'fuzz'),
    );
    survives('env file', ['A=1\nexport B="x ${A:-y}"\n# c\nC=${B%%x*}\n'], (t) =>
      parseEnvFile(t, 'fuzz', { HOME: '/h' }),
    );
    survives('note', [NOTE], (t) => parseNote(t));
    // Inbound mail (issue 27): anyone can send it; a link comes out only for this account and sender.
    const want = { accountId: '123456789012', identity: 'noreply@x.org', region: 'us-east-1' };
    survives(
      'inbound mail',
      [
        'https://email-verification.us-east-1.amazonaws.com/?Context=3D123456789012&Identity.IdentityName=3Dnoreply%40x.=\r\norg&Operation=3DConfirmVerification',
      ],
      (t) => {
        const link = findVerificationLink(t, want);
        if (link !== undefined) expect(new URL(link).searchParams.get('Context')).toBe('123456789012');
      },
    );
    survives('checkpoint text', [NOTE.split('\n\n')[0]! + '\n'], (t) => parseCheckpointText(t));
    survives(
      'anchor',
      [
        '{"format":"agentkeys-anchor/v1","events":1,"head":"' +
          'a'.repeat(64) +
          '","signer_kid":"k","updated_at":"x","signature":"AA=="}',
      ],
      (t) => {
        const r = parseAnchor(t);
        expect(typeof r === 'string' || typeof r === 'object').toBe(true);
      },
    );
    survives(
      'proof bundle',
      [
        JSON.stringify({
          format: 'agentkeys-inclusion-proof/v1',
          leaf_index: 0,
          tree_size: 1,
          audit_path: [],
          checkpoint: NOTE,
          event: JSON.parse(ROW),
        }),
      ],
      (t) => verifyInclusionBundle(t, () => undefined),
    );
    survives(
      'policy',
      [
        JSON.stringify({
          version: 1,
          chainIds: [1],
          contracts: ['0x' + 'a'.repeat(40)],
          protocolPolicies: { erc20: { maxAllowanceWei: '1' } },
        }),
        JSON.stringify({ allowedChainIds: [1], maxAmountWei: 5 }),
      ],
      (t) => {
        let json: unknown;
        try {
          json = JSON.parse(t);
        } catch {
          return; // readPolicyFile names a file that is not JSON before parsePolicy runs
        }
        parsePolicy(json, 'fuzz');
      },
    );
    survives(
      'sentinel envelope',
      ['{"encrypted":"AA==","encryptedDataKey":"AA==","iv":"AAAAAAAAAAAAAAAA","authTag":"AA==","keyId":"k"}'],
      (t) => parseSentinelEnvelope(t),
    );
    survives('batch', ['{"event_type":"t","payload":{"a":1}}\n{"event_type":"u","payload":[]}\n'], (t) =>
      parseBatch(t, {}),
    );
    // A service's JWKS (rotate-key --jwks-url): whatever the URL answers.
    survives('jwks', ['{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"k"},{"kty":"EC"},null,1]}'], (t) =>
      parseJwks(t, 'http://127.0.0.1/jwks'),
    );
  }, 120_000);
});
