import type { CheckpointRun } from '../../src/audit/checkpointing.js';

export function checkpointSummary(run: CheckpointRun): string {
  const parts: string[] = [];
  if (run.origin && run.sizes.length > 0) parts.push(`origin ${run.origin}`);
  if (run.sizes.length > 0) {
    const sizes =
      run.sizes.length > 4 ? `${run.sizes.slice(0, 3).join(', ')} … ${run.sizes.at(-1)}` : run.sizes.join(', ');
    parts.push(`${run.signatures} checkpoint(s) signed at tree size ${sizes}; root ${run.root}`);
  }
  if (run.uncovered > 0) parts.push(`${run.uncovered} event(s) wait for a later checkpoint (--checkpoint-interval)`);
  return parts.length > 0 ? parts.join('; ') : 'no new events: no checkpoint signed';
}
