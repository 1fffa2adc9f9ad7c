// Time an attacker cannot choose. A row's created_at is unsigned (Agent Manager's signature covers
// only the payload and the link), so a key whose validity ended can sign a new event dated back
// into its window. The chain's own order is what counts: an event is no older than the newest
// created_at before it, and a created_at that goes back further than the slack is a finding.
// ISO timestamps of one length compare as text, so the common case (time moving forward) parses
// nothing; only a step back, or a change of format, costs a Date.parse.

/** The newest created_at seen so far, in chain order. */
export class ChainClock {
  private maxText = '';
  private maxMs = Number.NEGATIVE_INFINITY;
  private stale = false;

  /** Takes the next row's created_at; returns how far (ms) it lies before the newest one, else 0. */
  observe(text: string): number {
    if (text.length === this.maxText.length && text >= this.maxText) {
      this.maxText = text;
      this.stale = true;
      return 0;
    }
    const at = Date.parse(text);
    if (Number.isNaN(at)) return 0; // an unreadable time is reported where a window needs it
    const max = this.now;
    if (at >= max) {
      this.maxText = text;
      this.maxMs = at;
      this.stale = false;
      return 0;
    }
    return max - at;
  }

  /** The newest time seen (ms since the epoch); -Infinity before any. */
  get now(): number {
    if (this.stale) {
      this.maxMs = Date.parse(this.maxText);
      this.stale = false;
    }
    return this.maxMs;
  }
}

/** The oldest created_at of a run of rows, found with as few parses as ChainClock needs. */
export class OldestTime {
  private minText: string | undefined;
  at: { index: number; id: string; text: string; ms: number } | undefined;

  observe(text: string, index: number, id: string): void {
    if (this.minText !== undefined && text.length === this.minText.length && text >= this.minText) return;
    const ms = Date.parse(text);
    if (Number.isNaN(ms) || (this.at && ms >= this.at.ms)) return;
    this.minText = text;
    this.at = { index, id, text, ms };
  }
}
