import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseSignerRegistry, parseSignerRegistryLenient } from '../../../src/signing/registry.js';
import { normalizeAlgorithm } from '../../../src/signing/algorithms.js';

const ed = generateKeyPairSync('ed25519').publicKey;
const edPem = ed.export({ type: 'spki', format: 'pem' }).toString();
const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const p256Pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const edRaw = ed.export({ format: 'jwk' }).x!;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('signers.json shapes (agent-manager-audit-format.md §6)', () => {
  it('reads the build script shape with "Ed25519" and "rsa-sha256"', () => {
    const reg = parseSignerRegistry(
      JSON.stringify({
        signers: [
          { signerId: 'a', publicKey: edPem, algorithm: 'Ed25519' },
          { signerId: 'b', publicKey: rsaPem, algorithm: 'rsa-sha256' },
        ],
      }),
      't',
    );
    expect(reg.signers.map((s) => [s.signerId, s.algorithm])).toEqual([
      ['a', 'ed25519'],
      ['b', 'rsa-sha256'],
    ]);
  });

  it('reads the committed snake_case shape and keeps description and validity', () => {
    const reg = parseSignerRegistry(
      JSON.stringify({
        signers: [
          {
            signer_kid: 'a',
            algorithm: 'RSA',
            public_key_pem: rsaPem,
            deployedAt: '2025-01-01',
            description: 'x',
            validFrom: '2025-01-01T00:00:00Z',
          },
        ],
      }),
      't',
    );
    expect(reg.signers[0]).toMatchObject({
      signerId: 'a',
      algorithm: 'rsa-sha256',
      description: 'x',
      validFrom: '2025-01-01T00:00:00Z',
    });
  });

  it('reads the flat map next to a signers array (update-signers-from-kms.sh)', () => {
    const reg = parseSignerRegistry(
      JSON.stringify({
        signers: [{ signerId: 'a', publicKey: edPem, algorithm: 'ed25519' }],
        'arn:aws:kms:eu-west-1:1:key/k': p256Pem,
      }),
      't',
    );
    expect(reg.signers.map((s) => [s.signerId, s.algorithm])).toEqual([
      ['a', 'ed25519'],
      ['arn:aws:kms:eu-west-1:1:key/k', 'ecdsa-p256'],
    ]);
  });

  it('reads the Go registry shape: raw base64 Ed25519 keys', () => {
    const raw = Buffer.from(edRaw, 'base64url').toString('base64');
    const reg = parseSignerRegistry(
      JSON.stringify({ signers: [{ signerId: 'g', algorithm: 'Ed25519', publicKey: raw, createdAt: 'x' }] }),
      't',
    );
    expect(reg.signers[0]!.publicKey).toBe(edPem);
  });

  it('reads a top-level array and an id → object map', () => {
    expect(parseSignerRegistry(JSON.stringify([{ id: 'a', key: edPem }]), 't').signers[0]!.algorithm).toBe('ed25519');
    expect(
      parseSignerRegistry(JSON.stringify({ a: { alg: 'EdDSA', publicKey: edPem } }), 't').signers[0]!.signerId,
    ).toBe('a');
  });

  it('accepts an HMAC signer without key material, refuses one with a secret', () => {
    expect(
      parseSignerRegistry(JSON.stringify({ signers: [{ signerId: 'h', algorithm: 'HMAC_SHA_256' }] }), 't').signers[0]!
        .algorithm,
    ).toBe('hmac-sha256');
    expect(
      codeOf(() =>
        parseSignerRegistry(
          JSON.stringify({ signers: [{ signerId: 'h', algorithm: 'hmac-sha256', publicKey: 'c2VjcmV0' }] }),
          't',
        ),
      ),
    ).toBe('REGISTRY_INVALID');
  });

  it('lists every problem at once and rejects algorithm/key contradictions', () => {
    const text = JSON.stringify({
      signers: [
        { signerId: 'a', algorithm: 'rsa', publicKey: edPem },
        { algorithm: 'ed25519', publicKey: edPem },
        { signerId: 'c', algorithm: 'nope', publicKey: edPem },
        { signerId: 'd', publicKey: 'bm90IGEga2V5', extra: 1 },
      ],
    });
    try {
      parseSignerRegistry(text, 't');
      expect.fail('should throw');
    } catch (err) {
      expect((err as { code: string }).code).toBe('REGISTRY_INVALID');
      expect((err as { details: string[] }).details.length).toBeGreaterThanOrEqual(4);
    }
  });

  it('refuses the same signer twice with different keys', () => {
    const text = JSON.stringify({ signers: [{ signerId: 'a', publicKey: edPem }], a: rsaPem });
    expect(codeOf(() => parseSignerRegistry(text, 't'))).toBe('REGISTRY_INVALID');
  });

  it('lenient reading disables only the broken entry', () => {
    const parsed = parseSignerRegistryLenient(
      JSON.stringify({
        signers: [
          { signerId: 'ok', publicKey: edPem },
          { signerId: 'bad', algorithm: 'x', publicKey: edPem },
        ],
      }),
      't',
    );
    expect(parsed.registry.signers.map((s) => s.signerId)).toEqual(['ok']);
    expect(Object.keys(parsed.rejected)).toEqual(['bad']);
  });

  it('a file that is not a registry is REGISTRY_INVALID even when lenient', () => {
    expect(codeOf(() => parseSignerRegistryLenient('[1', 't'))).toBe('REGISTRY_INVALID');
    expect(codeOf(() => parseSignerRegistryLenient('42', 't'))).toBe('REGISTRY_INVALID');
  });
});

describe('algorithm names', () => {
  it.each([
    ['Ed25519', 'ed25519'],
    ['ED25519_SHA_512', 'ed25519'],
    ['RSASSA_PKCS1_V1_5_SHA_256', 'rsa-sha256'],
    ['rsa', 'rsa-sha256'],
    ['ES256', 'ecdsa-p256'],
    ['ECC_SECG_P256K1', 'ecdsa-secp256k1'],
    ['HMAC-SHA256', 'hmac-sha256'],
  ])('%s → %s', (name, alg) => expect(normalizeAlgorithm(name)).toBe(alg));
  it('does not map Ed25519ph or PSS to anything', () => {
    expect(normalizeAlgorithm('ED25519_PH_SHA_512')).toBeUndefined();
    expect(normalizeAlgorithm('RSASSA_PSS_SHA_256')).toBeUndefined();
  });
});
