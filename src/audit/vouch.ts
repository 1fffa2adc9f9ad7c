// What a checkpoint's signer answers for. A checkpoint commits to every event of its tree, but in
// checkpoint mode events carry no signature of their own, so a tree can hold events an attacker
// with write access to the log put there. Each agentkeys checkpoint therefore names, in signed
// extension lines, the events its writer appended itself ("vouched") or took over by an operator's
// explicit decision ("adopted"). verify-audit reports unsigned events no checkpoint answers for.
//   agentkeys/vouched 11-15,21-25
//   agentkeys/adopted 6-10 by alice@ops-1
// A checkpoint without agentkeys/ lines predates this rule and answers for its whole tree.

/** An inclusive range of 1-based event positions. */
export type EventRange = readonly [first: number, last: number];

export interface Vouching {
  vouched: EventRange[];
  adopted: EventRange[];
  /** Who adopted, as the operator's tool recorded it (not authenticated beyond the signature). */
  adoptedBy?: string;
}

const VOUCHED = 'agentkeys/vouched ';
const ADOPTED = 'agentkeys/adopted ';
/** Ranges per extension line, so a line stays about 2 KB. */
const RANGES_PER_LINE = 100;
/** Ranges a writer puts in one checkpoint; more are split over several checkpoints. */
export const MAX_RANGES_PER_CHECKPOINT = 1000;
const WHO = /^[A-Za-z0-9._@+-]{1,128}$/;

export function formatVouching(v: Vouching): string[] {
  const lines: string[] = [];
  for (let i = 0; i < v.vouched.length; i += RANGES_PER_LINE)
    lines.push(VOUCHED + formatRanges(v.vouched.slice(i, i + RANGES_PER_LINE)));
  if (v.adopted.length > 0) {
    const by = v.adoptedBy && WHO.test(v.adoptedBy) ? v.adoptedBy : 'unknown';
    for (let i = 0; i < v.adopted.length; i += RANGES_PER_LINE)
      lines.push(`${ADOPTED}${formatRanges(v.adopted.slice(i, i + RANGES_PER_LINE))} by ${by}`);
  }
  return lines;
}

const formatRanges = (ranges: readonly EventRange[]) =>
  ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');

/**
 * What a checkpoint of `size` events answers for, from its extension lines; a string says why the
 * lines are unusable. Lines outside the agentkeys/ namespace are ignored, as C2SP asks.
 */
export function parseVouching(extensions: readonly string[] | undefined, size: number): Vouching | string {
  const ours = (extensions ?? []).filter((l) => l.startsWith('agentkeys/'));
  if (ours.length === 0) return { vouched: size > 0 ? [[1, size]] : [], adopted: [] };
  const out: Vouching = { vouched: [], adopted: [] };
  for (const line of ours) {
    if (line.startsWith(VOUCHED)) {
      const ranges = parseRanges(line.slice(VOUCHED.length), size);
      if (typeof ranges === 'string') return ranges;
      out.vouched.push(...ranges);
    } else if (line.startsWith(ADOPTED)) {
      const m = /^(\S+) by (\S+)$/.exec(line.slice(ADOPTED.length));
      if (!m || !WHO.test(m[2]!)) return `"${line.slice(0, 60)}" is not "agentkeys/adopted RANGES by WHO"`;
      const ranges = parseRanges(m[1]!, size);
      if (typeof ranges === 'string') return ranges;
      out.adopted.push(...ranges);
      out.adoptedBy = m[2]!;
    } else return `unknown agentkeys extension "${line.slice(0, 60)}"`;
  }
  return out;
}

function parseRanges(text: string, size: number): EventRange[] | string {
  const out: EventRange[] = [];
  for (const part of text.split(',')) {
    const m = /^([1-9][0-9]{0,15})(?:-([1-9][0-9]{0,15}))?$/.exec(part);
    if (!m) return `"${part.slice(0, 40)}" is not an event range`;
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first || last > size) return `range ${part} is not inside 1..${size}`;
    const prev = out[out.length - 1];
    if (prev && first <= prev[1] + 1) return `ranges must be in order and apart (${part})`;
    out.push([first, last]);
  }
  return out;
}

/** A set of event positions kept as sorted, disjoint, non-adjacent ranges. */
export class RangeSet {
  private items: [number, number][] = [];

  get ranges(): readonly EventRange[] {
    return this.items;
  }

  get isEmpty(): boolean {
    return this.items.length === 0;
  }

  /** Appends a range; O(1) when ranges arrive in order, as a writer's own events do. */
  add(first: number, last: number): void {
    if (last < first) return;
    const tail = this.items[this.items.length - 1];
    if (!tail || first > tail[1] + 1) this.items.push([first, last]);
    else if (first >= tail[0]) tail[1] = Math.max(tail[1], last);
    else {
      this.items.push([first, last]);
      this.normalise();
    }
  }

  addAll(ranges: readonly EventRange[]): void {
    for (const [a, b] of ranges) this.add(a, b);
  }

  /** The parts of [first, last] this set does not hold. */
  gapsWithin(first: number, last: number): EventRange[] {
    const gaps: EventRange[] = [];
    let next = first;
    for (const [a, b] of this.items) {
      if (b < next) continue;
      if (a > last) break;
      if (a > next) gaps.push([next, a - 1]);
      next = b + 1;
      if (next > last) break;
    }
    if (next <= last) gaps.push([next, last]);
    return gaps;
  }

  /** The parts of this set that fall inside [first, last]. */
  within(first: number, last: number): EventRange[] {
    const out: EventRange[] = [];
    for (const [a, b] of this.items) {
      if (b < first || a > last) continue;
      out.push([Math.max(a, first), Math.min(b, last)]);
    }
    return out;
  }

  private normalise(): void {
    this.items.sort((x, y) => x[0] - y[0]);
    const merged: [number, number][] = [];
    for (const r of this.items) {
      const top = merged[merged.length - 1];
      if (top && r[0] <= top[1] + 1) top[1] = Math.max(top[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    this.items = merged;
  }
}

/** The ranges of `a` that `b` does not hold. */
export function subtract(a: readonly EventRange[], b: RangeSet): EventRange[] {
  return a.flatMap(([first, last]) => b.gapsWithin(first, last));
}

export const describeRanges = (ranges: readonly EventRange[], max = 5): string => {
  const shown = ranges.slice(0, max).map(([a, b]) => (a === b ? `${a}` : `${a}..${b}`));
  return ranges.length > max ? `${shown.join(', ')} and ${ranges.length - max} more range(s)` : shown.join(', ');
};
