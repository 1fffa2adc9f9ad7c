// Proofs from a checkpointed log: an inclusion proof bundle (one event, its leaf index, its audit
// path and a checkpoint) that anyone holding signers.json can check without the log, and a
// consistency proof that the log as it is now extends an earlier checkpoint.
import { AgentkeysError, UsageError, VerificationError } from '../errors.js';
import type { VerificationKey } from '../signing/verify.js';
import { duplicateMember } from './canonical.js';
import type { ChainSource } from './chain.js';
import { openCheckpoint, parseCheckpointText, parseNote, type Checkpoint } from './checkpoint.js';
import { consistencyProof, inclusionProof, subtreeRoot, verifyConsistency, verifyInclusion } from './merkle.js';
import { checkRowFields, digestRow, eventLeafHash, type AuditRow } from './record.js';
import { messageOf } from '../sys/operator-file.js';

export const PROOF_FORMAT = 'agentkeys-inclusion-proof/v1';

export interface InclusionBundle {
  format: typeof PROOF_FORMAT;
  event: AuditRow;
  leaf_index: number;
  tree_size: number;
  audit_path: string[];
  checkpoint: string;
}

type KeyOf = (kid: string) => VerificationKey | undefined;

/** Every event's leaf in chain order, and where each id sits. */
async function readLeaves(
  source: ChainSource,
): Promise<{ leaves: Buffer[]; rows: Map<string, { index: number; row: AuditRow }> }> {
  const leaves: Buffer[] = [];
  const rows = new Map<string, { index: number; row: AuditRow }>();
  for await (const row of source.rows()) {
    rows.set(row.id, { index: leaves.length, row });
    leaves.push(eventLeafHash(row, digestRow(row.payload, row.prev_hash).digest.toString('hex')));
  }
  return { leaves, rows };
}

/** The checkpoint notes of the source whose text parses, largest tree first (signatures are the verifier's job). */
async function checkpointsBySize(source: ChainSource): Promise<{ note: string; checkpoint: Checkpoint }[]> {
  const out: { note: string; checkpoint: Checkpoint }[] = [];
  for (const note of await source.readCheckpoints()) {
    try {
      out.push({ note, checkpoint: parseCheckpointText(parseNote(note).text) });
    } catch (err) {
      if (!(err instanceof AgentkeysError)) throw err;
    }
  }
  return out.sort((a, b) => b.checkpoint.size - a.checkpoint.size);
}

/** The proof that event `id` is in the tree of the newest checkpoint that covers it. */
export async function proveInclusion(source: ChainSource, id: string): Promise<InclusionBundle> {
  const { leaves, rows } = await readLeaves(source);
  const found = rows.get(id);
  if (!found) {
    throw new UsageError({
      code: 'EVENT_NOT_FOUND',
      message: `no event with id ${id} in ${source.label}`,
      hint: `agentkeys audit query --log ${source.label} shows the ids`,
    });
  }
  const covering = (await checkpointsBySize(source)).find((c) => c.checkpoint.size > found.index);
  if (!covering) {
    throw new UsageError({
      code: 'CHECKPOINT_NOT_FOUND',
      message: `no checkpoint covers event ${found.index + 1} (${id}) yet`,
      hint:
        "its writer signs one when it finishes; a stopped writer's events: " +
        `agentkeys audit checkpoint --log ${source.label} --adopt`,
    });
  }
  const { size, root } = covering.checkpoint;
  if (size > leaves.length || !subtreeRoot(leaves, 0, size).equals(root)) {
    throw new VerificationError({
      code: 'CHECKPOINT_ROOT_MISMATCH',
      message: `the log no longer matches its checkpoint at ${size} events, so no proof from it would hold`,
      hint: `agentkeys verify-audit --log ${source.label} names what changed`,
    });
  }
  return {
    format: PROOF_FORMAT,
    event: found.row,
    leaf_index: found.index,
    tree_size: size,
    audit_path: inclusionProof(leaves, found.index, size).map((p) => p.toString('hex')),
    checkpoint: covering.note,
  };
}

export interface InclusionVerdict {
  id: string;
  leafIndex: number;
  treeSize: number;
  signedBy: string[];
  origin: string;
}

/** Checks a bundle with the registry's keys alone: the checkpoint's signature, then the path. */
export function verifyInclusionBundle(text: string, keyOf: KeyOf): InclusionVerdict {
  const bundle = parseBundle(text);
  const opened = openCheckpoint(bundle.checkpoint, keyOf);
  if (!opened.ok)
    throw new VerificationError({
      code: 'PROOF_INVALID',
      message: `the proof's checkpoint: ${opened.message} [${opened.code}]`,
    });
  const { checkpoint } = opened;
  if (checkpoint.size !== bundle.tree_size) {
    throw new VerificationError({
      code: 'PROOF_INVALID',
      message: `the proof is for a tree of ${bundle.tree_size}, its checkpoint for ${checkpoint.size}`,
    });
  }
  const leaf = eventLeafHash(
    bundle.event,
    digestRow(bundle.event.payload, bundle.event.prev_hash).digest.toString('hex'),
  );
  const path = bundle.audit_path.map((p) => Buffer.from(p, 'hex'));
  if (!verifyInclusion(bundle.leaf_index, bundle.tree_size, leaf, path, checkpoint.root)) {
    throw new VerificationError({
      code: 'PROOF_INVALID',
      message:
        `event ${bundle.event.id} is not at leaf ${bundle.leaf_index} of the signed ` +
        `tree of ${checkpoint.size}: the event or the path was changed`,
    });
  }
  return {
    id: bundle.event.id,
    leafIndex: bundle.leaf_index,
    treeSize: checkpoint.size,
    signedBy: opened.signedBy,
    origin: checkpoint.origin,
  };
}

function proofMalformed(message: string): UsageError {
  return new UsageError({
    code: 'PROOF_MALFORMED',
    message: `not an inclusion proof bundle: ${message}`,
    hint: 'bundles come from agentkeys audit prove',
  });
}

function parseBundle(text: string): InclusionBundle {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw proofMalformed(messageOf(err));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw proofMalformed('not a JSON object');
  const dup = duplicateMember(text);
  if (dup !== undefined) throw proofMalformed(`it names ${JSON.stringify(dup)} twice in one object`);
  const wanted = ['audit_path', 'checkpoint', 'event', 'format', 'leaf_index', 'tree_size'];
  const missing = wanted.filter((k) => !(k in value));
  const unknown = Object.keys(value).filter((k) => !wanted.includes(k));
  if (missing.length > 0 || unknown.length > 0)
    throw proofMalformed(
      [
        missing.length > 0 ? `missing ${missing.join(', ')}` : '',
        unknown.length > 0 ? `unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; '),
    );
  if (value.format !== PROOF_FORMAT) throw proofMalformed(`format ${String(value.format)}`);
  if (!Number.isSafeInteger(value.leaf_index) || !Number.isSafeInteger(value.tree_size))
    throw proofMalformed('leaf_index and tree_size are integers');
  if (
    !Array.isArray(value.audit_path) ||
    !value.audit_path.every((p) => typeof p === 'string' && /^[0-9a-f]{64}$/.test(p))
  ) {
    throw proofMalformed('audit_path is a list of 64-hex hashes');
  }
  if (typeof value.checkpoint !== 'string') throw proofMalformed('checkpoint is the note text');
  if (typeof value.event !== 'object' || value.event === null) throw proofMalformed('event is a row');
  try {
    checkRowFields(value.event as Record<string, unknown>);
  } catch (err) {
    throw proofMalformed(`event: ${messageOf(err)}`);
  }
  return value as unknown as InclusionBundle;
}

export interface ConsistencyResult {
  old: { size: number; root: string };
  current: { size: number; root: string; signedBy: string[] };
  proof: string[];
}

/**
 * Proves that the log's newest verified checkpoint extends `oldNote`: both signatures checked,
 * both roots recomputed from the events, and the RFC 6962 consistency proof between them checked.
 */
export async function proveConsistency(source: ChainSource, oldNote: string, keyOf: KeyOf): Promise<ConsistencyResult> {
  const old = openCheckpoint(oldNote, keyOf);
  // Not a checkpoint at all is the operator's input; a checkpoint that does not verify is evidence.
  if (!old.ok && old.code === 'CHECKPOINT_MALFORMED')
    throw new UsageError({
      code: 'CHECKPOINT_MALFORMED',
      message: `the old checkpoint is not a signed checkpoint note: ${old.message}`,
      hint: `write one with: agentkeys audit checkpoint --log ${source.label} --out old.checkpoint`,
    });
  if (!old.ok)
    throw new VerificationError({
      code: 'CONSISTENCY_FAILED',
      message: `the old checkpoint: ${old.message} [${old.code}]`,
    });
  const newest = (await source.readCheckpoints())
    .map((n) => openCheckpoint(n, keyOf))
    .filter((v) => v.ok)
    .sort((a, b) => b.checkpoint.size - a.checkpoint.size)[0];
  if (!newest)
    throw new UsageError({
      code: 'CHECKPOINT_NOT_FOUND',
      message: `${source.label} has no verified checkpoint`,
      hint: `sign events in checkpoint mode: agentkeys sign --log ${source.label} --checkpoint-every N`,
    });
  const { leaves } = await readLeaves(source);
  const fail = (message: string) => new VerificationError({ code: 'CONSISTENCY_FAILED', message });
  const [m, n] = [old.checkpoint.size, newest.checkpoint.size];
  if (m > n)
    throw fail(`the old checkpoint covers ${m} events, more than the log's newest checkpoint (${n}): the log was cut`);
  if (n > leaves.length)
    throw fail(`the newest checkpoint covers ${n} events but the log has ${leaves.length}: the log was cut`);
  if (!subtreeRoot(leaves, 0, m).equals(old.checkpoint.root))
    throw fail(`the first ${m} events no longer give the old root: history was rewritten`);
  if (!subtreeRoot(leaves, 0, n).equals(newest.checkpoint.root))
    throw fail(`the events do not give the newest checkpoint's root (${n})`);
  const proof = consistencyProof(leaves, m, n);
  if (!verifyConsistency(m, n, proof, old.checkpoint.root, newest.checkpoint.root))
    throw fail(`no consistency proof from ${m} to ${n}`);
  return {
    old: { size: m, root: old.checkpoint.root.toString('hex') },
    current: { size: n, root: newest.checkpoint.root.toString('hex'), signedBy: newest.signedBy },
    proof: proof.map((p) => p.toString('hex')),
  };
}
