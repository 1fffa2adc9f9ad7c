// What signing costs in KMS requests, by mode: per-row mode signs every event (and one anchor per
// batch, left out here); checkpoint mode signs one checkpoint per `every` events.
// AWS KMS list price for asymmetric Sign requests: USD 0.15 per 10,000 (us-east-1, 2026).
export const KMS_ASYMMETRIC_USD_PER_10K = 0.15;

export function kmsCostPerMillion(mode: 'per-row' | 'checkpoint', every = 1): { requests: number; usd: number } {
  const requests = mode === 'per-row' ? 1_000_000 : Math.ceil(1_000_000 / every);
  return { requests, usd: (requests / 10_000) * KMS_ASYMMETRIC_USD_PER_10K };
}
