// Checkpoint mode in verification: the checkpoint notes are opened with signers.json first, their
// tree sizes go to the chunk verifiers, the chunks' Merkle ranges are joined in order, and each
// checkpoint's root is compared with the root recomputed from the events themselves.
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import type { Finding } from './findings.js';
import type { KeyRing } from './keyring.js';
import { CompactRange } from './merkle.js';
import type { ChunkMerkle } from './verify-chunk.js';
import { describeRanges, parseVouching, RangeSet, subtract } from './vouch.js';

const MAX_UNVOUCHED_FINDINGS = 20;

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

/**
 * Opens every note; a bad one is a finding (index 0: it is about no one event). With an expected
 * origin (--origin), a checkpoint of another log is a finding and counts for nothing.
 */
export function openCheckpoints(notes: readonly string[], keys: KeyRing, expectedOrigin?: string): OpenedCheckpoints {
  const valid: Checkpoint[] = [];
  const findings: Finding[] = [];
  const keyOf = (kid: string) => {
    const found = keys.lookup(kid);
    return found.ok === true ? found.key : undefined;
  };
  const strangers = new Set<string>();
  notes.forEach((note, i) => {
    const opened = openCheckpoint(note, keyOf);
    if (!opened.ok)
      findings.push({ index: 0, id: null, code: opened.code, message: `checkpoint ${i + 1}: ${opened.message}` });
    else if (expectedOrigin !== undefined && opened.checkpoint.origin !== expectedOrigin)
      strangers.add(opened.checkpoint.origin);
    else valid.push(opened.checkpoint);
  });
  const origins = new Set(valid.map((c) => c.origin));
  if (origins.size > 1 || strangers.size > 0) {
    const list = [...origins, ...strangers].join(', ');
    findings.push({
      index: 0,
      id: null,
      code: 'CHECKPOINT_ORIGIN_MISMATCH',
      message:
        expectedOrigin !== undefined
          ? `checkpoints of another log (${[...strangers].join(', ')}) where ${expectedOrigin} was expected`
          : `checkpoints of several logs: ${list}`,
    });
  }
  return { valid, findings };
}

/** Joins the chunks' Merkle ranges in chain order and keeps the roots at the checkpoints' sizes. */
export class TreeStitcher {
  /** logRef: how the operator named the log, for the commands in findings. */
  constructor(private readonly logRef = 'LOG') {}
  private readonly tree = new CompactRange();
  private brokenAt: number | undefined;
  readonly rootsAt = new Map<number, string>();
  readonly unsigned = new RangeSet();

  add(merkle: ChunkMerkle | undefined): void {
    if (!merkle) return;
    for (const [first, last] of merkle.unsigned ?? []) this.unsigned.add(first, last);
    if (this.brokenAt !== undefined) return;
    for (const [size, range] of Object.entries(merkle.rangesAt)) {
      const at = this.tree.clone();
      at.appendRange(CompactRange.fromJSON(range));
      this.rootsAt.set(Number(size), at.root().toString('hex'));
    }
    if (merkle.range) this.tree.appendRange(CompactRange.fromJSON(merkle.range));
    else this.brokenAt = merkle.brokenAt;
  }

  /**
   * Every checkpoint against the events: root, length, what no checkpoint covers yet, and which
   * unsigned events inside the checkpointed trees no writer vouched for.
   */
  check(checkpoints: readonly Checkpoint[], events: number): { findings: Finding[]; coveredEvents: number } {
    const findings: Finding[] = [];
    const matched: Checkpoint[] = [];
    let covered = 0;
    // One finding per broken range: a changed event breaks every later checkpoint too, and a cut
    // log falls short of every checkpoint past its end; those are counted, not listed.
    let broken: { finding: Finding; later: number; upTo: number } | undefined;
    let truncated: Finding | undefined;
    for (const cp of [...checkpoints].sort((a, b) => a.size - b.size)) {
      const finding = this.checkOne(cp, events, covered);
      if (!finding) {
        covered = Math.max(covered, cp.size);
        matched.push(cp);
      } else if (finding.code === 'TRUNCATED') truncated = finding;
      else if (broken && cp.size > broken.upTo) {
        broken.later++;
        broken.upTo = cp.size;
      } else if (!broken) {
        broken = { finding, later: 0, upTo: cp.size };
        findings.push(finding);
      }
    }
    if (broken && broken.later > 0)
      broken.finding.message +=
        `; the same change breaks the ${broken.later} later checkpoint(s) up to ${broken.upTo} ` +
        '(a second change among them would not be told apart)';
    if (truncated) findings.push(truncated);
    // Events a signed checkpoint claims are reported by its mismatch, if any; only those after
    // every checkpoint are merely not covered yet.
    const claimed = checkpoints.reduce((max, c) => Math.max(max, c.size), 0);
    const waiting = this.unsigned.within(claimed + 1, events);
    if (waiting.length > 0) {
      const first = waiting[0]![0];
      findings.push({
        index: first,
        id: null,
        code: 'UNCHECKPOINTED',
        message:
          `events ${describeRanges(waiting)} carry no signature and no checkpoint covers them yet ` +
          `(the newest checkpoint covers ${claimed}); their writer signs one when it finishes, or, if it ` +
          'was stopped, adopt them on the record: agentkeys audit checkpoint --log ' +
          `${this.logRef} --adopt`,
      });
    }
    findings.push(...this.vouching(matched, covered));
    return { findings, coveredEvents: covered };
  }

  /** UNVOUCHED for unsigned events inside matched trees that no checkpoint answers for; ADOPTED ranges. */
  private vouching(matched: readonly Checkpoint[], covered: number): Finding[] {
    const findings: Finding[] = [];
    const answered = new RangeSet();
    for (const cp of matched) {
      const v = parseVouching(cp.extensions, cp.size);
      if (typeof v === 'string') {
        findings.push({ index: 0, id: null, code: 'CHECKPOINT_MALFORMED', message: `checkpoint at ${cp.size}: ${v}` });
        continue;
      }
      answered.addAll(v.vouched);
      answered.addAll(v.adopted);
      for (const [first, last] of v.adopted) {
        findings.push({
          index: first,
          id: null,
          code: 'ADOPTED',
          message:
            `events ${first}..${last} were adopted by ${v.adoptedBy ?? 'unknown'} in the checkpoint at ` +
            `${cp.size}: no writer vouched for them when they were written`,
        });
      }
    }
    const unvouched = subtract(this.unsigned.within(1, covered), answered);
    for (const [first, last] of unvouched.slice(0, MAX_UNVOUCHED_FINDINGS)) {
      findings.push({
        index: first,
        id: null,
        code: 'UNVOUCHED',
        message:
          `events ${first}..${last} are unsigned and inside a signed checkpoint, but no checkpoint's writer ` +
          'vouched for them: a writer still signing, a stopped writer, or events written around agentkeys ' +
          '(forged ones included); if they are yours: agentkeys audit checkpoint --log ' +
          `${this.logRef} --adopt`,
      });
    }
    if (unvouched.length > MAX_UNVOUCHED_FINDINGS) {
      const rest = unvouched.slice(MAX_UNVOUCHED_FINDINGS);
      findings.push({
        index: rest[0]![0],
        id: null,
        code: 'UNVOUCHED',
        message: `and ${rest.length} more unvouched range(s): ${describeRanges(rest)}`,
      });
    }
    return findings;
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
