// The chain's checkpoints from the operator's side (--log, a JSON Lines file): how old the newest
// is and how many events wait for one. Numbers for monitoring (doctor --prometheus), read from the
// files as they are: verify-audit, not doctor, is what proves them.
import { parseCheckpointText, parseNote } from '../../audit/checkpoint.js';
import { readCheckpointRecords } from '../../store/checkpoint-file.js';
import { linesFromEnd } from '../../store/file-tail.js';
import { fileExists } from '../../sys/fs.js';
import { redactUrl } from '../../sys/redact.js';
import { measured, ok, skip, warn, type DoctorCheck } from '../check.js';

/** Events may wait this long for a checkpoint before doctor warns (a writer signs at least daily). */
const MAX_WAIT_SECONDS = 86_400;

export const checkpointCheck: DoctorCheck = {
  id: 'audit.checkpoints',
  group: 'audit',
  title: 'The newest checkpoint: its age, and the events no checkpoint covers yet',
  async run(ctx) {
    const log = ctx.config.log;
    if (!log || !(await fileExists(log))) return skip('no JSON Lines audit log given (--log FILE)');
    const [newest] = await readCheckpointRecords(log, 1);
    const events = await countEvents(log);
    const labels = { log: redactUrl(log) };
    const size = newest ? sizeOf(newest.note) : undefined;
    if (!newest || size === undefined) return skip(`${log} has no checkpoint (per-row mode signs every event)`);
    const ageSeconds = Math.max(
      0,
      Math.floor((ctx.now.getTime() - (newest.state?.signedAt ?? ctx.now).getTime()) / 1000),
    );
    const waiting = Math.max(0, events - size);
    const metrics = [
      { name: 'agentkeys_audit_checkpoint_age_seconds', labels, value: ageSeconds },
      { name: 'agentkeys_audit_uncheckpointed_events', labels, value: waiting },
    ];
    const detail = `newest checkpoint covers ${size} of ${events} events, signed ${ageSeconds} s ago`;
    if (waiting > 0 && ageSeconds > MAX_WAIT_SECONDS)
      return measured(
        warn(`${waiting} events wait for a checkpoint: ${detail}`, `agentkeys audit checkpoint --log ${log}`),
        metrics,
      );
    return measured(ok(detail), metrics);
  },
};

/** The tree size a checkpoint note claims; undefined when the note does not parse. */
function sizeOf(note: string): number | undefined {
  try {
    return parseCheckpointText(parseNote(note).text).size;
  } catch {
    return undefined;
  }
}

async function countEvents(log: string): Promise<number> {
  let n = 0;
  for await (const line of linesFromEnd(log)) if (line.trim() !== '') n++;
  return n;
}
