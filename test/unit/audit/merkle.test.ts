// RFC 6962 trees against the RFC's test vectors (the eight leaves of the certificate-transparency
// reference tests, as published with Go's tlog and the Python CT tools) and against a second,
// bottom-up implementation written here from the spec's prose.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CompactRange,
  consistencyProof,
  inclusionProof,
  leafHash,
  subtreeRoot,
  verifyConsistency,
  verifyInclusion,
} from '../../../src/audit/merkle.js';

const h = (hex: string) => Buffer.from(hex, 'hex');
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const leaves = LEAVES.map((l) => leafHash(h(l)));

/** The second implementation: level by level, pairing neighbours, an odd last node promoted. */
function bottomUpRoot(hashes: Buffer[]): Buffer {
  if (hashes.length === 0) return createHash('sha256').digest();
  let level = hashes;
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      next.push(
        createHash('sha256')
          .update(Buffer.of(1))
          .update(level[i]!)
          .update(level[i + 1]!)
          .digest(),
      );
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

describe('RFC 6962 Merkle trees', () => {
  it('roots of the reference tree at every size, three ways', () => {
    for (let n = 1; n <= 8; n++) {
      const range = new CompactRange();
      for (const leaf of leaves.slice(0, n)) range.appendLeaf(leaf);
      expect(range.root().toString('hex')).toBe(ROOTS[n - 1]);
      expect(subtreeRoot(leaves.slice(0, n)).toString('hex')).toBe(ROOTS[n - 1]);
      expect(bottomUpRoot(leaves.slice(0, n)).toString('hex')).toBe(ROOTS[n - 1]);
    }
    expect(new CompactRange().root().toString('hex')).toBe(createHash('sha256').digest('hex'));
  });

  it('the published inclusion and consistency proofs verify, and tampered ones do not', () => {
    const path = [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ].map(h);
    expect(inclusionProof(leaves, 5, 8)).toEqual(path);
    expect(verifyInclusion(5, 8, leaves[5]!, path, h(ROOTS[7]!))).toBe(true);
    expect(verifyInclusion(4, 8, leaves[5]!, path, h(ROOTS[7]!))).toBe(false);
    expect(verifyInclusion(2, 3, leaves[2]!, [h(ROOTS[1]!)], h(ROOTS[2]!))).toBe(true);
    const consistency = [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ].map(h);
    expect(consistencyProof(leaves, 6, 8)).toEqual(consistency);
    expect(verifyConsistency(6, 8, consistency, h(ROOTS[5]!), h(ROOTS[7]!))).toBe(true);
    expect(verifyConsistency(6, 8, consistency, h(ROOTS[4]!), h(ROOTS[7]!))).toBe(false);
    const twoToFive = [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ].map(h);
    expect(consistencyProof(leaves, 2, 5)).toEqual(twoToFive);
    expect(verifyConsistency(2, 5, twoToFive, h(ROOTS[1]!), h(ROOTS[4]!))).toBe(true);
  });

  it('every proof of random trees up to 70 leaves verifies; a flipped bit never does', () => {
    const many = Array.from({ length: 70 }, () => leafHash(randomBytes(8)));
    for (const size of [1, 2, 3, 5, 8, 13, 31, 32, 33, 64, 70]) {
      const root = bottomUpRoot(many.slice(0, size));
      for (let i = 0; i < size; i++) {
        const proof = inclusionProof(many, i, size);
        expect(verifyInclusion(i, size, many[i]!, proof, root)).toBe(true);
        if (proof.length > 0) {
          const bad = proof.map((p, j) => (j === 0 ? Buffer.from(p.map((b, k) => (k === 0 ? b ^ 1 : b))) : p));
          expect(verifyInclusion(i, size, many[i]!, bad, root)).toBe(false);
        }
      }
      for (let m = 0; m <= size; m++) {
        const proof = consistencyProof(many, m, size);
        expect(verifyConsistency(m, size, proof, bottomUpRoot(many.slice(0, m)), root), `${m} → ${size}`).toBe(true);
        if (m > 0 && m < size)
          expect(verifyConsistency(m, size, proof, bottomUpRoot(many.slice(0, m)), many[0]!)).toBe(false);
      }
    }
  });

  it('compact ranges built by chunks starting anywhere join into the same root', () => {
    const many = Array.from({ length: 100 }, () => leafHash(randomBytes(8)));
    for (const cuts of [
      [0, 100],
      [0, 1, 100],
      [0, 37, 64, 65, 100],
      [0, 3, 6, 9, 50, 99, 100],
    ]) {
      const total = new CompactRange();
      for (let c = 0; c + 1 < cuts.length; c++) {
        const chunk = new CompactRange(cuts[c]!);
        for (let i = cuts[c]!; i < cuts[c + 1]!; i++) chunk.appendLeaf(many[i]!);
        total.appendRange(CompactRange.fromJSON(JSON.parse(JSON.stringify(chunk.toJSON()))));
      }
      expect(total.root()).toEqual(bottomUpRoot(many));
    }
    expect(() => new CompactRange().appendRange(new CompactRange(5))).toThrow(
      expect.objectContaining({ code: 'MERKLE_PROOF_INVALID' }),
    );
  });
});

describe('the event leaf', () => {
  it('is the RFC 8785 canonical JSON of its fields, byte for byte, whatever the strings hold', async () => {
    const { canonicalJson } = await import('../../../src/audit/canonical.js');
    const { eventLeafText } = await import('../../../src/audit/record.js');
    const tricky = ['plain', 'quote " and \\ backslash', 'tab\t nl\n ctl\u0001', 'é ü 🌍 \u2028', '\ud800 lone', ''];
    for (const s of tricky) {
      const row = {
        id: s,
        actor_id: s === '' ? null : s,
        event_type: s,
        payload: null,
        signature: null,
        signer_kid: null,
        prev_hash: null,
        created_at: s,
      };
      const fields = { actor_id: row.actor_id, created_at: s, digest: 'ab'.repeat(32), event_type: s, id: s };
      expect(eventLeafText(row, 'ab'.repeat(32))).toBe(canonicalJson(fields));
    }
  });
});
