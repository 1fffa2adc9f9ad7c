// RFC 6962 (RFC 9162 §2.1) Merkle hash trees over the audit events: leaf and node hashes, compact
// ranges that chunks verified in parallel can build alone and the caller joins in order, and
// inclusion and consistency proofs with their verification. Everything is SHA-256.
import { createHash, hash } from 'node:crypto';
import { AgentkeysError } from '../errors.js';

const EMPTY_ROOT = createHash('sha256').digest();

// One-shot hashing (crypto.hash): these run once or twice per event of a verification.
const LEAF_PREFIX = Buffer.of(0);
const NODE_PREFIX = Buffer.of(1);

export function leafHash(data: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'buffer');
}

// Node hashes are always of two 32-byte children: one scratch buffer, filled and hashed at once.
const nodeScratch = Buffer.alloc(65, 1);

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== 32 || right.length !== 32)
    return hash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer');
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 33);
  return hash('sha256', nodeScratch, 'buffer');
}

/**
 * A hash as a 32-character latin1 string, one character per byte. Verification makes a leaf and
 * about one node per event; as strings they cost a third of what a Buffer each does (no
 * ArrayBuffer per hash), so the compact range keeps its nodes this way and converts at its edges.
 */
export type BinaryHash = string;

const binaryNodeScratch = Buffer.alloc(65, 1);

/** nodeHash() over binary strings: the hot path of building a tree. */
export function nodeHashBinary(left: BinaryHash, right: BinaryHash): BinaryHash {
  binaryNodeScratch.write(left, 1, 'latin1');
  binaryNodeScratch.write(right, 33, 'latin1');
  return hash('sha256', binaryNodeScratch, 'binary');
}

export function toBinaryHash(value: Uint8Array): BinaryHash {
  if (value.length !== 32) throw rangeError(`a tree hash has 32 bytes, not ${value.length}`);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
}

/** A perfect subtree: 2^level leaves starting at a multiple of 2^level. */
interface RangeNode {
  level: number;
  hash: BinaryHash;
}

export interface CompactRangeData {
  begin: number;
  nodes: { level: number; hash: string }[];
}

/**
 * The hashes of the perfect subtrees that exactly cover the leaves [begin, end), left to right.
 * A chunk of events starting anywhere builds its own; joining the ranges of adjacent chunks in
 * order gives the range from 0, whose root is the tree head. O(log n) memory at any size.
 */
export class CompactRange {
  private readonly nodes: RangeNode[] = [];
  private endIndex: number;

  constructor(readonly begin = 0) {
    this.endIndex = begin;
  }

  get end(): number {
    return this.endIndex;
  }

  get size(): number {
    return this.endIndex - this.begin;
  }

  appendLeaf(hash: Uint8Array): void {
    this.appendLeafBinary(toBinaryHash(hash));
  }

  appendLeafBinary(hash: BinaryHash): void {
    this.nodes.push({ level: 0, hash });
    this.endIndex += 1;
    this.mergeTop();
  }

  /** Appends the range that starts where this one ends. */
  appendRange(other: CompactRange): void {
    if (other.begin !== this.endIndex)
      throw rangeError(`range [${other.begin}, ${other.end}) does not follow ${this.endIndex}`);
    for (const node of other.nodes) this.appendNode(node);
  }

  /** The tree head over [0, end); only a range that starts at 0 has one. */
  root(): Buffer {
    if (this.begin !== 0) throw rangeError(`a range starting at ${this.begin} has no root`);
    if (this.nodes.length === 0) return Buffer.from(EMPTY_ROOT);
    let hash = this.nodes[this.nodes.length - 1]!.hash;
    for (let i = this.nodes.length - 2; i >= 0; i--) hash = nodeHashBinary(this.nodes[i]!.hash, hash);
    return Buffer.from(hash, 'latin1');
  }

  clone(): CompactRange {
    const copy = new CompactRange(this.begin);
    copy.nodes.push(...this.nodes);
    copy.endIndex = this.endIndex;
    return copy;
  }

  /** Plain data, so a range crosses worker threads and lands in files. */
  toJSON(): CompactRangeData {
    const nodes = this.nodes.map((n) => ({ level: n.level, hash: Buffer.from(n.hash, 'latin1').toString('hex') }));
    return { begin: this.begin, nodes };
  }

  static fromJSON(value: CompactRangeData): CompactRange {
    const range = new CompactRange(value.begin);
    for (const n of value.nodes) range.appendNode({ level: n.level, hash: toBinaryHash(Buffer.from(n.hash, 'hex')) });
    return range;
  }

  /** Appends a perfect subtree starting at `end` (it must be aligned there). */
  private appendNode(node: RangeNode): void {
    const width = 2 ** node.level;
    if (this.endIndex % width !== 0) throw rangeError(`a level-${node.level} subtree cannot start at ${this.endIndex}`);
    this.nodes.push(node);
    this.endIndex += width;
    this.mergeTop();
  }

  // Two neighbours of one level merge when the left one starts where a subtree of the next level may.
  private mergeTop(): void {
    for (;;) {
      const n = this.nodes.length;
      if (n < 2) return;
      const right = this.nodes[n - 1]!;
      const left = this.nodes[n - 2]!;
      if (left.level !== right.level) return;
      const leftStart = this.endIndex - 2 * 2 ** right.level;
      if (leftStart % 2 ** (left.level + 1) !== 0 || leftStart < this.begin) return;
      this.nodes.length = n - 2;
      this.nodes.push({ level: left.level + 1, hash: nodeHashBinary(left.hash, right.hash) });
    }
  }
}

function rangeError(message: string): AgentkeysError {
  return new AgentkeysError({ code: 'MERKLE_PROOF_INVALID', message });
}

/** MTH(D[start:end]) over leaf hashes (RFC 6962 §2.1), for proofs; the verifier uses CompactRange. */
export function subtreeRoot(leaves: readonly Buffer[], start = 0, end = leaves.length): Buffer {
  const n = end - start;
  if (n === 0) return Buffer.from(EMPTY_ROOT);
  if (n === 1) return leaves[start]!;
  const k = largestPowerOfTwoBelow(n);
  return nodeHash(subtreeRoot(leaves, start, start + k), subtreeRoot(leaves, start + k, end));
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** PATH(m, D[n]): the audit path of leaf m in the tree of the first n leaves (RFC 6962 §2.1.1). */
export function inclusionProof(leaves: readonly Buffer[], index: number, size: number): Buffer[] {
  if (!(index >= 0 && index < size && size <= leaves.length)) throw rangeError(`no leaf ${index} in a tree of ${size}`);
  const path = (m: number, start: number, end: number): Buffer[] => {
    const n = end - start;
    if (n === 1) return [];
    const k = largestPowerOfTwoBelow(n);
    if (m < k) return [...path(m, start, start + k), subtreeRoot(leaves, start + k, end)];
    return [...path(m - k, start + k, end), subtreeRoot(leaves, start, start + k)];
  };
  return path(index, 0, size);
}

/** PROOF(m, D[n]): that the tree of the first m leaves is a prefix of the tree of n (§2.1.2). */
export function consistencyProof(leaves: readonly Buffer[], m: number, n: number): Buffer[] {
  if (!(m >= 0 && m <= n && n <= leaves.length)) throw rangeError(`no consistency proof from ${m} to ${n}`);
  if (m === 0 || m === n) return [];
  const sub = (mm: number, start: number, end: number, complete: boolean): Buffer[] => {
    const size = end - start;
    if (mm === size) return complete ? [] : [subtreeRoot(leaves, start, end)];
    const k = largestPowerOfTwoBelow(size);
    if (mm <= k) return [...sub(mm, start, start + k, complete), subtreeRoot(leaves, start + k, end)];
    return [...sub(mm - k, start + k, end, false), subtreeRoot(leaves, start, start + k)];
  };
  return sub(m, 0, n, true);
}

/** RFC 9162 §2.1.3.2: true when `proof` places `leaf` at `index` in the tree of `size` with `root`. */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Buffer,
  proof: readonly Buffer[],
  root: Buffer,
): boolean {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2: true when `proof` shows the tree (first, firstRoot) is a prefix of (second, secondRoot). */
export function verifyConsistency(
  first: number,
  second: number,
  proof: readonly Buffer[],
  firstRoot: Buffer,
  secondRoot: Buffer,
): boolean {
  if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second) && first >= 0 && first <= second)) return false;
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (first === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(firstRoot) && sr.equals(secondRoot);
}

// Arithmetic, not bitwise: tree sizes pass 2^31.
function isPowerOfTwo(n: number): boolean {
  let x = n;
  while (x > 1 && x % 2 === 0) x /= 2;
  return x === 1;
}
