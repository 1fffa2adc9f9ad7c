// One self-rewriting line on stderr for long work, shown only when stderr is a terminal (never in
// a pipe, a log file or CI output). It never touches stdout, so --json output stays pure.
export interface ProgressLine {
  update(text: string): void;
  done(): void;
}

const QUIET: ProgressLine = { update: () => undefined, done: () => undefined };

export function progressLine(_opts: { json: boolean }, stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  if (!stream.isTTY) return QUIET;
  let last = 0;
  let shown = false;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < 100) return; // at most ten redraws a second
      last = now;
      shown = true;
      stream.write(`\r\x1b[K${text}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Bytes for a progress line: 1.5 MiB, 128 MiB, 2.0 GiB. */
export function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(n >= 10 << 20 ? 0 : 1)} MiB`;
  return `${Math.round(n / 1024)} KiB`;
}
