import { UsageError } from '../errors.js';
import { parseIJson, type JsonValue } from './canonical.js';
import type { NewEvent } from './record.js';

export interface EventDefaults {
  eventType?: string;
  actor?: string;
}

const BATCH_FIELDS = new Set(['event_type', 'actor_id', 'payload']);

/**
 * One event per JSON line: {"event_type"?, "actor_id"?, "payload"}. Flags supply the missing
 * event_type and actor_id. All lines are checked before anything is signed, so a bad line 900
 * does not leave 899 events written; every bad line is listed.
 */
export function parseBatch(text: string, defaults: EventDefaults): NewEvent[] {
  const events: NewEvent[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      events.push(batchEvent(parseIJson(line, `line ${i + 1}`), defaults, i + 1));
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      problems.push(err.message);
    }
  });
  if (problems.length > 0) {
    throw new UsageError({
      code: 'BATCH_INVALID',
      message: `${problems.length} bad line(s) in the batch; nothing was signed`,
      details: problems.slice(0, 20),
      hint: 'each line is {"event_type":"…","actor_id":"…","payload":{…}}',
    });
  }
  if (events.length === 0)
    throw new UsageError({
      code: 'BATCH_EMPTY',
      message: 'the batch on stdin has no events',
      hint: 'pipe JSON lines into agentkeys sign --batch',
    });
  return events;
}

function batchEvent(value: JsonValue, defaults: EventDefaults, line: number): NewEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw lineError(line, 'must be a JSON object');
  const unknown = Object.keys(value).filter((k) => !BATCH_FIELDS.has(k));
  if (unknown.length > 0) throw lineError(line, `unknown field(s) ${unknown.join(', ')}`);
  if (!('payload' in value)) throw lineError(line, 'has no payload');
  const eventType = value.event_type ?? defaults.eventType;
  if (typeof eventType !== 'string' || eventType === '')
    throw lineError(line, 'has no event_type (and no --event-type was given)');
  const actor = value.actor_id ?? defaults.actor ?? null;
  if (actor !== null && typeof actor !== 'string') throw lineError(line, 'actor_id must be a string');
  return { event_type: eventType, actor_id: actor, payload: value.payload! };
}

function lineError(line: number, reason: string): UsageError {
  return new UsageError({ code: 'BATCH_INVALID', message: `line ${line} ${reason}` });
}

export function singleEvent(payloadText: string, defaults: EventDefaults): NewEvent {
  if (!defaults.eventType)
    throw new UsageError({
      code: 'EVENT_TYPE_MISSING',
      message: 'no --event-type given',
      hint: 'for example --event-type agent_spawned',
    });
  return { event_type: defaults.eventType, actor_id: defaults.actor ?? null, payload: parseIJson(payloadText) };
}
