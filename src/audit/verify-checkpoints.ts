// Checkpoint mode in verification: the checkpoint notes are opened with signers.json first, their
// tree sizes go to the chunk verifiers, the chunks' Merkle ranges are joined in order, and each
// checkpoint's root is compared with the root recomputed from the events themselves.
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import type { Finding } from './findings.js';
import type { KeyRing } from './keyring.js';
import { CompactRange } from './merkle.js';
import type { ChunkMerkle } from './verify-chunk.js';

export interface CheckpointSummary {
  /** Checkpoints found beside the log, and how many opened with a trusted signature. */
  found: number;
  verified: number;
  /** The largest tree size a verified checkpoint covers whose root matched the events. */
  coveredEvents: number;
  origin: string | null;
}

export interface OpenedCheckpoints {
  valid: Checkpoint[];
  findings: Finding[];
}

/** Opens every note; a bad one is a finding (index 0: it is about no one event). */
export function openCheckpoints(notes: readonly string[], keys: KeyRing): OpenedCheckpoints {
  const valid: Checkpoint[] = [];
  const findings: Finding[] = [];
  const keyOf = (kid: string) => {
    const found = keys.lookup(kid);
    return found.ok === true ? found.key : undefined;
  };
  notes.forEach((note, i) => {
    const opened = openCheckpoint(note, keyOf);
    if (opened.ok) valid.push(opened.checkpoint);
    else findings.push({ index: 0, id: null, code: opened.code, message: `checkpoint ${i + 1}: ${opened.message}` });
  });
  const origins = new Set(valid.map((c) => c.origin));
  if (origins.size > 1) {
    const list = [...origins].join(', ');
    findings.push({
      index: 0,
      id: null,
      code: 'CHECKPOINT_ORIGIN_MISMATCH',
      message: `checkpoints of several logs: ${list}`,
    });
  }
  return { valid, findings };
}

/** Joins the chunks' Merkle ranges in chain order and keeps the roots at the checkpoints' sizes. */
export class TreeStitcher {
  private readonly tree = new CompactRange();
  private brokenAt: number | undefined;
  readonly rootsAt = new Map<number, string>();
  unsigned: { first: number; last: number } | undefined;

  add(merkle: ChunkMerkle | undefined): void {
    if (!merkle) return;
    if (merkle.unsigned)
      this.unsigned = { first: this.unsigned?.first ?? merkle.unsigned.first, last: merkle.unsigned.last };
    if (this.brokenAt !== undefined) return;
    for (const [size, range] of Object.entries(merkle.rangesAt)) {
      const at = this.tree.clone();
      at.appendRange(CompactRange.fromJSON(range));
      this.rootsAt.set(Number(size), at.root().toString('hex'));
    }
    if (merkle.range) this.tree.appendRange(CompactRange.fromJSON(merkle.range));
    else this.brokenAt = merkle.brokenAt;
  }

  /** Every checkpoint against the events: root, length, and what no checkpoint covers yet. */
  check(checkpoints: readonly Checkpoint[], events: number): { findings: Finding[]; coveredEvents: number } {
    const findings: Finding[] = [];
    let covered = 0;
    for (const cp of [...checkpoints].sort((a, b) => a.size - b.size)) {
      const finding = this.checkOne(cp, events, covered);
      if (finding) findings.push(finding);
      else covered = Math.max(covered, cp.size);
    }
    // Events a signed checkpoint claims are reported by its mismatch, if any; only those after
    // every checkpoint are merely not covered yet.
    const claimed = checkpoints.reduce((max, c) => Math.max(max, c.size), 0);
    if (this.unsigned && this.unsigned.last > claimed) {
      const first = Math.max(this.unsigned.first, claimed + 1);
      findings.push({
        index: first,
        id: null,
        code: 'UNCHECKPOINTED',
        message:
          `events ${first}..${this.unsigned.last} carry no signature and no checkpoint covers them yet ` +
          `(the newest checkpoint covers ${claimed}); sign a checkpoint: agentkeys audit checkpoint --log LOG`,
      });
    }
    return { findings, coveredEvents: covered };
  }

  /** `lastGood`: the largest size below this one whose root matched, which narrows down where. */
  private checkOne(cp: Checkpoint, events: number, lastGood: number): Finding | undefined {
    if (cp.size > events) {
      return {
        index: events + 1,
        id: null,
        code: 'TRUNCATED',
        message:
          `a signed checkpoint covers ${cp.size} events but the log has ${events}: ` +
          `events ${events + 1}..${cp.size} are missing`,
      };
    }
    if (cp.size === 0) return undefined;
    const root = this.rootsAt.get(cp.size);
    if (root === cp.root.toString('hex')) return undefined;
    const why =
      root === undefined
        ? `event ${this.brokenAt ?? '?'} is unreadable, so the tree cannot be recomputed`
        : `the events give root ${root}`;
    return {
      index: cp.size,
      id: null,
      code: 'CHECKPOINT_ROOT_MISMATCH',
      message:
        `the checkpoint at ${cp.size} events signs root ${cp.root.toString('hex')}, but ${why}: ` +
        `an event in ${lastGood + 1}..${cp.size} was changed, inserted, removed or reordered`,
    };
  }
}
