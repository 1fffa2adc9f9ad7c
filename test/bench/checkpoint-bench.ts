// npm run bench:checkpoint: signing into a file log with a KMS key behind 50 ms of injected latency
// per KMS call (moto-server.py's MOTO_KMS_LATENCY_MS), in checkpoint mode and in per-row mode, in
// one run: events per second, KMS Sign calls, and KMS requests and dollars per million events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { appendSignedEvents } from '../../src/audit/append.js';
import { appendWithCheckpoints } from '../../src/audit/checkpointing.js';
import { writerKeyOf } from '../../src/audit/writer-trust.js';
import { createKmsApi } from '../../src/aws/kms.js';
import { createOrAdoptKey } from '../../src/signing/kms-keys.js';
import { startMoto } from '../../src/sandbox/moto.js';
import { KmsSigner } from '../../src/signing/kms-signer.js';
import { FileAuditLog } from '../../src/store/file-log.js';
import { kmsCostPerMillion } from '../../src/audit/cost.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const LATENCY_MS = Number(process.env.BENCH_KMS_LATENCY_MS ?? 50);
const CHECKPOINT_EVENTS = Number(process.env.BENCH_CHECKPOINT_EVENTS ?? 20_000);
const PER_ROW_EVENTS = Number(process.env.BENCH_PER_ROW_EVENTS ?? 100);
const EVERY = 1000;

const moto = await startMoto({ extraEnv: { MOTO_KMS_LATENCY_MS: String(LATENCY_MS) } });
Object.assign(process.env, moto.env);
const dir = mkdtempSync(path.join(tmpdir(), 'agentkeys-cp-bench-'));
try {
  const calls = new Map<string, number>();
  const kms = createKmsApi({
    region: 'us-east-1',
    onCall: (c) => calls.set(c.operation, (calls.get(c.operation) ?? 0) + 1),
  });
  const { meta } = await createOrAdoptKey(kms, { spec: 'ECC_NIST_P256', alias: 'alias/bench-audit' });
  const signer = await KmsSigner.open(kms, meta.Arn!);
  const events = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ event_type: 'tool_call', actor_id: `agent-${i % 7}`, payload: { i } }));

  const timed = async (fn: () => Promise<unknown>) => {
    calls.clear();
    const t = process.hrtime.bigint();
    await fn();
    return { seconds: Number(process.hrtime.bigint() - t) / 1e9, signs: calls.get('Sign') ?? 0 };
  };
  const cpLog = new FileAuditLog(path.join(dir, 'cp.jsonl'), path.join(dir, 'cp.jsonl'));
  let checkpoints = 0;
  const cp = await timed(async () => {
    // Batches of 500, as a busy writer sends them: a checkpoint every 1,000 events and at each batch's end.
    // Each batch as `sign` writes it: the writer proves the log, appends, then signs.
    const opts = { keyOf: await writerKeyOf(signer, undefined), label: 'cp.jsonl' };
    for (let done = 0; done < CHECKPOINT_EVENTS; done += 500) {
      const policy = { origin: 'agentkeys.local/bench', every: EVERY };
      checkpoints += (await appendWithCheckpoints(cpLog, signer, events(500), policy, opts)).checkpointed.signatures;
    }
  });
  const rowLog = new FileAuditLog(path.join(dir, 'rows.jsonl'), path.join(dir, 'rows.jsonl'));
  const rows = await timed(() => appendSignedEvents(rowLog, signer, events(PER_ROW_EVENTS)));

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const cpRate = CHECKPOINT_EVENTS / cp.seconds;
  const rowRate = PER_ROW_EVENTS / rows.seconds;
  const cpCost = kmsCostPerMillion('checkpoint', EVERY);
  const rowCost = kmsCostPerMillion('per-row');
  console.log(`checkpoint benchmark: KMS ECC_NIST_P256 on moto with ${LATENCY_MS} ms per KMS call`);
  console.log(
    `  checkpoint mode  ${fmt(cpRate)} events/s  (${fmt(CHECKPOINT_EVENTS)} events, ${cp.signs} Sign calls = ` +
      `${(cp.signs / checkpoints).toFixed(2)} per checkpoint; ${checkpoints} checkpoints: every ${EVERY} and at each batch's end; ` +
      'target ≥ 1,000/s, ≤ 1 Sign per checkpoint)',
  );
  console.log(`  per-row mode     ${fmt(rowRate)} events/s  (${fmt(PER_ROW_EVENTS)} events, ${rows.signs} Sign calls)`);
  console.log(`  checkpoint mode is ${(cpRate / rowRate).toFixed(0)}× per-row mode in this run`);
  console.log(
    `  per million events: checkpoint ${fmt(cpCost.requests)} KMS requests ($${cpCost.usd.toFixed(4)}), per-row ${fmt(rowCost.requests)} ($${rowCost.usd.toFixed(2)})`,
  );
} finally {
  await moto.stop();
  rmSync(dir, { recursive: true, force: true });
}
