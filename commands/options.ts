import { UsageError } from '../src/errors.js';

/** A whole-number flag value within bounds, or FLAG_INVALID naming the flag. */
export function parseWholeNumber(value: string, flag: string, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `${flag} "${value}" is not a whole number${rangeText(min, max)}`,
    });
  }
  return n;
}

function rangeText(min: number, max: number): string {
  if (max < Number.MAX_SAFE_INTEGER) return ` between ${min} and ${max}`;
  return min > 0 ? ` of at least ${min}` : '';
}

/** `--keep DIR` names a kept sandbox, so it means nothing without `--sandbox`. */
export function refuseKeepWithoutSandbox(command: string, options: { keep?: string; sandbox?: boolean }): void {
  if (options.keep && !options.sandbox)
    throw new UsageError({
      code: 'FLAG_CONFLICT',
      message: '--keep DIR goes with --sandbox',
      hint: `agentkeys ${command} --sandbox --keep ${options.keep}`,
    });
}
