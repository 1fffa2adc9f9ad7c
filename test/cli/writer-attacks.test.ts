// Issue 21: the attacker has the writer's own rights on a file log (write access to the log, its
// anchor and its checkpoint file, but not the signing key), attacks, and then lets the honest
// writer keep working. Each attack must end with the writer refusing (exit 3, nothing appended)
// or with verify-audit failing or warning; never with exit 0. Honest concurrent writers in both
// modes must never refuse each other.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestRow } from '../../src/audit/record.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const events = (n: number, from = 1) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ event_type: 't', actor_id: 'a', payload: { n: from + i } }),
  ).join('\n');
const lines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n');
const rewrite = (file: string, rows: string[]) => writeFileSync(file, `${rows.join('\n')}\n`);

async function keyIn(cwd: string) {
  const r = await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'audit-1'], { cwd });
  expect(r.code, r.stderr).toBe(0);
}

async function sign(cwd: string, input: string, extra: string[] = ['--checkpoint-every', '10']) {
  return runCli(['--json', 'sign', '--log', 'a.jsonl', '--key', 'local:audit-1', '--batch', ...extra], { cwd, input });
}

async function verify(cwd: string) {
  const r = await runCli(['--json', 'verify-audit', '--log', 'a.jsonl'], { cwd });
  return {
    code: r.code,
    out: JSON.parse(r.stdout) as { findings: { index: number; code: string; message: string }[] },
  };
}

const codes = (out: { findings: { code: string }[] }) => [...new Set(out.findings.map((f) => f.code))].sort();

/** Unsigned events as an attacker writes them: linked on from the log's last event, no signature. */
function forgeUnsigned(log: string, n: number, createdAt = new Date().toISOString()): void {
  // The chain digest is SHA-256(canonical payload || prev bytes); the helper below recomputes it.
  const rows = lines(log);
  let prev = chainDigestOf(JSON.parse(rows.at(-1)!));
  for (let i = 0; i < n; i++) {
    const row = {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      actor_id: 'mallory',
      event_type: 't',
      payload: { forged: i },
      signature: null,
      signer_kid: null,
      prev_hash: prev,
      created_at: createdAt,
    };
    rows.push(JSON.stringify(row));
    prev = chainDigestOf(row);
  }
  rewrite(log, rows);
}

const chainDigestOf = (row: { payload: unknown; prev_hash: string | null }) =>
  digestRow(row.payload as never, row.prev_hash).digest.toString('hex');

describe('checkpoint mode against a writer-side attacker (file log)', () => {
  it('forged unsigned events after the newest checkpoint: the next sign vouches only for its own, verify says UNVOUCHED (exit 5), audit checkpoint refuses without --adopt', async () => {
    const cwd = tempDir();
    await keyIn(cwd);
    expect((await sign(cwd, events(10))).code).toBe(0);
    const log = path.join(cwd, 'a.jsonl');
    forgeUnsigned(log, 3);
    const honest = await sign(cwd, events(2, 11));
    expect(honest.code, honest.stderr).toBe(0);
    expect(JSON.parse(honest.stdout).checkpoints).toMatchObject({ sizes: [15] });
    const v = await verify(cwd);
    expect(v.code).toBe(5);
    expect(v.out.findings).toEqual([expect.objectContaining({ code: 'UNVOUCHED', index: 11 })]);
    expect(v.out.findings[0]!.message).toContain('events 11..13');
    const cp = await runCli(['audit', 'checkpoint', '--log', 'a.jsonl', '--key', 'local:audit-1'], { cwd });
    expect(cp.code).toBe(3);
    expect(cp.stderr).toContain('LOG_UNVOUCHED_EVENTS');
    expect((await verify(cwd)).code).toBe(5);
  });

  it('forged events that have waited for a checkpoint longer than any live writer would: sign refuses and appends nothing', async () => {
    const cwd = tempDir();
    await keyIn(cwd);
    expect((await sign(cwd, events(10))).code).toBe(0);
    const log = path.join(cwd, 'a.jsonl');
    forgeUnsigned(log, 2, '2020-01-01T00:00:00.000Z');
    const before = readFileSync(log, 'utf8');
    const r = await sign(cwd, events(1, 11));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('LOG_UNVOUCHED_EVENTS');
    expect(r.stderr).toContain('11..12');
    expect(readFileSync(log, 'utf8')).toBe(before);
  });

  it('a cut log with its checkpoint file deleted: sign refuses when the events are old; when they are fresh, it vouches only for its own (exit 5)', async () => {
    const cwd = tempDir();
    await keyIn(cwd);
    expect((await sign(cwd, events(25))).code).toBe(0);
    const log = path.join(cwd, 'a.jsonl');
    rmSync(`${log}.checkpoints.jsonl`);
    const old = lines(log)
      .slice(0, 15)
      .map((l) => JSON.stringify({ ...JSON.parse(l), created_at: '2020-01-01T00:00:00.000Z' }));
    rewrite(log, old);
    const refused = await sign(cwd, events(1, 26));
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('LOG_UNVOUCHED_EVENTS');
    expect(lines(log)).toHaveLength(15);
    // The same cut with fresh times: the writer cannot tell it from another writer still at work,
    // so it appends, but vouches only for its own event.
    rewrite(
      log,
      old.map((l) => JSON.stringify({ ...JSON.parse(l), created_at: new Date().toISOString() })),
    );
    expect((await sign(cwd, events(1, 26))).code).toBe(0);
    const v = await verify(cwd);
    expect(v.code).toBe(5);
    expect(v.out.findings).toEqual([expect.objectContaining({ code: 'UNVOUCHED', index: 1 })]);
  });

  it('the whole log replaced by a forged chain: sign refuses (LOG_DIVERGED) and appends nothing', async () => {
    const cwd = tempDir();
    await keyIn(cwd);
    expect((await sign(cwd, events(12))).code).toBe(0);
    const log = path.join(cwd, 'a.jsonl');
    const forged = tempDir();
    await keyIn(forged);
    expect((await sign(forged, events(12, 100))).code).toBe(0);
    writeFileSync(log, readFileSync(path.join(forged, 'a.jsonl')));
    const r = await sign(cwd, events(1, 13));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('LOG_DIVERGED');
    expect(lines(log)).toHaveLength(12);
  });

  it('an edited hint (range, position) is never signed over: the writer recomputes, and its checkpoint verifies', async () => {
    const cwd = tempDir();
    await keyIn(cwd);
    expect((await sign(cwd, events(12))).code).toBe(0);
    const sidecar = path.join(cwd, 'a.jsonl.checkpoints.jsonl');
    const records = lines(sidecar).map((l) => JSON.parse(l) as Record<string, unknown>);
    const zero = { begin: 0, nodes: [{ level: 3, hash: '00'.repeat(32) }] };
    rewrite(
      sidecar,
      records.map((r) => JSON.stringify({ ...r, range: zero, prior: zero, position: 10 })),
    );
    const r = await sign(cwd, events(3, 13));
    expect(r.code, r.stderr).toBe(0);
    const v = await verify(cwd);
    expect(v.code, JSON.stringify(v.out.findings)).toBe(0);
  });

  it('a cut below the newest checkpoint: sign refuses (LOG_DIVERGED), nothing appended', async () => {
    const cwd = tempDir();
    await keyIn(cwd);
    expect((await sign(cwd, events(25))).code).toBe(0);
    const log = path.join(cwd, 'a.jsonl');
    rewrite(log, lines(log).slice(0, 22));
    const r = await sign(cwd, events(1, 26));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('LOG_DIVERGED');
    expect(lines(log)).toHaveLength(22);
  });

  it('ten honest checkpoint-mode writers at once never refuse each other, and every event is vouched for', async () => {
    const cwd = tempDir();
    await keyIn(cwd);
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, w) => sign(cwd, events(4, w * 100), ['--checkpoint-every', '3'])),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const v = await verify(cwd);
    expect(v.code, JSON.stringify(v.out.findings)).toBe(0);
    expect(lines(path.join(cwd, 'a.jsonl'))).toHaveLength(40);
  });
});

describe('origins', () => {
  it('two logs of one file name get different origins; with the origin pinned, one cannot stand in for the other', async () => {
    const [a, b] = [tempDir(), tempDir()];
    for (const cwd of [a, b]) await keyIn(cwd);
    const first = JSON.parse((await sign(a, events(5))).stdout).checkpoints.origin as string;
    const second = JSON.parse((await sign(b, events(5))).stdout).checkpoints.origin as string;
    expect(first).toMatch(/^agentkeys\.local\/a\.jsonl-[0-9a-f]{8}$/);
    expect(second).not.toBe(first);
    // A later writer keeps the origin the log's checkpoints name.
    expect(JSON.parse((await sign(a, events(1, 6))).stdout).checkpoints.origin).toBe(first);
    // B's log and checkpoints copied over A's (B's key trusted in A's registry: the worst case).
    for (const f of ['a.jsonl', 'a.jsonl.checkpoints.jsonl', '.agentkeys/signers.json'])
      writeFileSync(path.join(a, f), readFileSync(path.join(b, f)));
    const unpinned = await runCli(['--json', 'verify-audit', '--log', 'a.jsonl'], { cwd: a });
    expect(JSON.parse(unpinned.stdout).checkpoints.origin).toBe(second); // shown, for the operator to see
    const pinned = await runCli(['--json', 'verify-audit', '--log', 'a.jsonl', '--origin', first], { cwd: a });
    expect(pinned.code).toBe(3);
    expect(codes(JSON.parse(pinned.stdout))).toContain('CHECKPOINT_ORIGIN_MISMATCH');
  });
});

describe('per-row mode against a writer-side attacker (file log)', () => {
  it('a cut tail is not re-anchored: the next sign refuses (LOG_DIVERGED) and appends nothing', async () => {
    const cwd = tempDir();
    await keyIn(cwd);
    expect((await sign(cwd, events(6), [])).code).toBe(0);
    const log = path.join(cwd, 'a.jsonl');
    rewrite(log, lines(log).slice(0, 4));
    const r = await sign(cwd, events(1, 7), []);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('LOG_DIVERGED');
    expect(lines(log)).toHaveLength(4);
    expect(codes((await verify(cwd)).out)).toContain('TRUNCATED');
  });

  it('a cut tail with the anchor deleted: refused unless the operator adopts the log; a forged anchor is refused', async () => {
    const cwd = tempDir();
    await keyIn(cwd);
    expect((await sign(cwd, events(6), [])).code).toBe(0);
    const log = path.join(cwd, 'a.jsonl');
    const anchor = readFileSync(`${log}.anchor.json`, 'utf8');
    rewrite(log, lines(log).slice(0, 4));
    rmSync(`${log}.anchor.json`);
    const r = await sign(cwd, events(1, 7), []);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('LOG_DIVERGED');
    expect(r.stderr).toContain('--adopt');
    // An anchor edited to match the cut log no longer verifies.
    const edited = JSON.parse(anchor) as { events: number; head: string };
    const last = JSON.parse(lines(log).at(-1)!);
    writeFileSync(`${log}.anchor.json`, JSON.stringify({ ...edited, events: 4, head: chainDigestOf(last) }));
    const forged = await sign(cwd, events(1, 7), []);
    expect(forged.code).toBe(3);
    expect(forged.stderr).toContain('does not verify');
    rmSync(`${log}.anchor.json`);
    expect((await sign(cwd, events(1, 7), ['--adopt'])).code).toBe(0);
    expect(lines(log)).toHaveLength(5);
  });

  it('a cut tail, the anchor deleted and a junk checkpoint file planted: still refused, since no trusted checkpoint holds', async () => {
    const cwd = tempDir();
    await keyIn(cwd);
    expect((await sign(cwd, events(6), [])).code).toBe(0);
    const log = path.join(cwd, 'a.jsonl');
    rewrite(log, lines(log).slice(0, 4));
    rmSync(`${log}.anchor.json`);
    writeFileSync(`${log}.checkpoints.jsonl`, 'not a checkpoint\n');
    const r = await sign(cwd, events(1, 7), []);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('LOG_DIVERGED');
    expect(lines(log)).toHaveLength(4);
    // The honest switch from checkpoint mode to per-row: the trusted checkpoint holds, the count is exact.
    const mixed = tempDir();
    await keyIn(mixed);
    expect((await sign(mixed, events(5))).code).toBe(0);
    const perRow = await sign(mixed, events(1, 6), []);
    expect(perRow.code, perRow.stderr).toBe(0);
    expect(JSON.parse(perRow.stdout).events).toBe(6);
    expect((await verify(mixed)).code).toBe(0);
  });

  it('events appended after the anchor without re-anchoring (another tool) are extended, the count proven by a scan', async () => {
    const cwd = tempDir();
    await keyIn(cwd);
    expect((await sign(cwd, events(3), [])).code).toBe(0);
    const log = path.join(cwd, 'a.jsonl');
    const anchorAt3 = readFileSync(`${log}.anchor.json`, 'utf8');
    expect((await sign(cwd, events(1, 4), [])).code).toBe(0);
    writeFileSync(`${log}.anchor.json`, anchorAt3); // event 4 is there; the anchor still says 3
    const r = await sign(cwd, events(1, 5), []);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).events).toBe(5);
    expect((await verify(cwd)).code).toBe(0);
  });
});
