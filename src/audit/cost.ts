// What signing costs in KMS requests, by mode: per-row mode signs every event, and its anchor once
// per `every` events when that is known (--anchor-every; else once per call, left out here);
// checkpoint mode signs one checkpoint per `every` events.
// AWS KMS list price for asymmetric Sign requests: USD 0.15 per 10,000 (us-east-1, 2026).
export const KMS_ASYMMETRIC_USD_PER_10K = 0.15;

export function kmsCostPerMillion(mode: 'per-row' | 'checkpoint', every?: number): { requests: number; usd: number } {
  const perEvery = Math.ceil(1_000_000 / (every ?? 1));
  const requests = mode === 'per-row' ? 1_000_000 + (every === undefined ? 0 : perEvery) : perEvery;
  return { requests, usd: (requests / 10_000) * KMS_ASYMMETRIC_USD_PER_10K };
}
