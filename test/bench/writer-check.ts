// The cost of the writer's check (issue 21), measured beside the append it guards, in one run:
// checkpoint mode on a file (the proof against the newest checkpoint and the read of the tail,
// then an append of one event and its checkpoint) and per-row mode (the anchor check under the
// lock, then a signed append of one event with its re-signed anchor).
import type { KeyObject } from 'node:crypto';
import * as path from 'node:path';
import { appendSignedEvents } from '../../src/audit/append.js';
import { appendUnsignedEvents } from '../../src/audit/checkpointing.js';
import { CheckpointWriter } from '../../src/audit/checkpoint-writer.js';
import { writerKeyOf } from '../../src/audit/writer-trust.js';
import { LocalKeySigner } from '../../src/signing/signer.js';
import { assertExtendsAnchor } from '../../src/store/anchor-file.js';
import { FileAuditLog } from '../../src/store/file-log.js';
import type { ChainAppender, CheckpointLog } from '../../src/audit/chain.js';
import { writeBenchChain, writeCheckpointedBenchChain } from './chain-file.js';

const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const event = (i: number) => ({ event_type: 'tool_call', actor_id: 'bench', payload: { i } });

/**
 * `calls` sign calls of one event each on a checkpoint-mode store, as `sign` makes them: the
 * writer's check (CheckpointWriter.open) timed apart from the append and the checkpoint it guards.
 */
export async function measureCheckpointWrites(
  store: ChainAppender & CheckpointLog,
  signer: LocalKeySigner,
  calls: number,
) {
  const keyOf = await writerKeyOf(signer, undefined);
  const check: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < calls; i++) {
    let t = process.hrtime.bigint();
    const writer = await CheckpointWriter.open(store, signer, {}, { keyOf, label: 'bench' });
    check.push(ms(t));
    t = process.hrtime.bigint();
    writer.appended((await appendUnsignedEvents(store, [event(i)])).rows);
    await writer.sign();
    rest.push(ms(t));
  }
  return { checkMs: median(check), appendAndSignMs: median(rest) };
}

export async function benchWriterCheck(dir: string, privateKey: KeyObject, events: number, calls = 200) {
  const signer = new LocalKeySigner('bench', privateKey, 'bench');
  const keyOf = await writerKeyOf(signer, undefined);
  const policy = { origin: 'agentkeys.local/bench' };
  const opts = { keyOf, label: 'bench' };

  const cpFile = path.join(dir, 'writer-cp.jsonl');
  await writeCheckpointedBenchChain(cpFile, events, 10_000, privateKey, (i) => ({ i }));
  const cpLog = new FileAuditLog(cpFile, cpFile);
  let t = process.hrtime.bigint();
  const first = await CheckpointWriter.open(cpLog, signer, policy, opts); // hints without a prior range
  const recompute = ms(t);
  first.appended((await appendUnsignedEvents(cpLog, [event(-1)])).rows);
  await first.sign();
  const checkpoint = await measureCheckpointWrites(cpLog, signer, calls);

  const rowFile = path.join(dir, 'writer-rows.jsonl');
  await writeBenchChain(rowFile, events, privateKey, (i) => ({ i }));
  await appendSignedEvents(new FileAuditLog(rowFile, rowFile, { adopt: true }), signer, [event(-1)], { keyOf });
  const rowLog = new FileAuditLog(rowFile, rowFile);
  const anchorCheck: number[] = [];
  const rowAppend: number[] = [];
  for (let i = 0; i < calls; i++) {
    const head = await rowLog.readHead();
    t = process.hrtime.bigint();
    await assertExtendsAnchor(rowFile, head, { signer, keyOf }, false, rowLog);
    anchorCheck.push(ms(t));
    t = process.hrtime.bigint();
    await appendSignedEvents(rowLog, signer, [event(i)], { keyOf });
    rowAppend.push(ms(t));
  }
  return {
    events,
    calls,
    recomputeMs: recompute,
    checkpoint,
    perRow: { checkMs: median(anchorCheck), appendMs: median(rowAppend) },
  };
}
