// Checkpoint mode end to end through the built CLI: events appended with no per-event signature,
// C2SP checkpoints signed every N events, and verify-audit recomputing the RFC 6962 tree from the
// events. Tampered, truncated, reordered, inserted and forged cases each name their code.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const events = (n: number, from = 1) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ event_type: 'tool_call', actor_id: 'agent-7', payload: { n: from + i } }),
  ).join('\n');

async function checkpointedLog(n = 25, every = '10') {
  const cwd = tempDir();
  await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'audit-1'], { cwd });
  const r = await runCli(
    ['--json', 'sign', '--log', 'a.jsonl', '--key', 'local:audit-1', '--batch', '--checkpoint-every', every],
    { cwd, input: events(n) },
  );
  expect(r.code, r.stderr).toBe(0);
  return { cwd, out: JSON.parse(r.stdout), log: path.join(cwd, 'a.jsonl') };
}

async function verify(cwd: string, log = 'a.jsonl') {
  const r = await runCli(['--json', 'verify-audit', '--log', log, '--no-anchor'], { cwd });
  return {
    code: r.code,
    out: JSON.parse(r.stdout) as {
      ok: boolean;
      findings: { index: number; code: string }[];
      checkpoints: { verified: number; coveredEvents: number } | null;
    },
  };
}

const codes = (out: { findings: { code: string }[] }) => [...new Set(out.findings.map((f) => f.code))].sort();
const lines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n');
const rewrite = (file: string, rows: string[]) => writeFileSync(file, `${rows.join('\n')}\n`);

describe('checkpoint mode', () => {
  it('--checkpoint-interval: one event per call signs a checkpoint only when the newest is older; the rest wait, UNCHECKPOINTED', async () => {
    const cwd = tempDir();
    await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'audit-1'], { cwd });
    const signOne = async (n: number, interval: string) => {
      const args = ['--json', 'sign', '--log', 'a.jsonl', '--key', 'local:audit-1', '--event-type', 't'];
      const r = await runCli([...args, '--payload', JSON.stringify({ n }), '--checkpoint-interval', interval], { cwd });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { checkpoints: { sizes: number[]; uncovered: number }; kmsCost?: unknown };
    };
    expect((await signOne(1, '1h')).checkpoints).toMatchObject({ sizes: [1], uncovered: 0 }); // none yet: signed
    expect((await signOne(2, '1h')).checkpoints).toMatchObject({ sizes: [], uncovered: 1 });
    expect((await signOne(3, '1h')).checkpoints).toMatchObject({ sizes: [], uncovered: 2 });
    const waiting = await verify(cwd);
    expect(waiting.code).toBe(5);
    expect(codes(waiting.out)).toEqual(['UNCHECKPOINTED']);
    // The newest checkpoint is older than 1ms by now: this call covers all four.
    expect((await signOne(4, '1ms')).checkpoints).toMatchObject({ sizes: [4], uncovered: 0 });
    const covered = await verify(cwd);
    expect(covered.code).toBe(0);
    expect(covered.out.checkpoints).toMatchObject({ verified: 2, coveredEvents: 4 });
    const bad = await runCli(
      [
        'sign',
        '--log',
        'a.jsonl',
        '--key',
        'local:audit-1',
        '--event-type',
        't',
        '--payload',
        '{}',
        '--checkpoint-interval',
        'soon',
      ],
      { cwd },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('FLAG_INVALID');
  });

  it('25 events, checkpoints at 10, 20 and 25 with one signature each, no per-event signature; the chain verifies', async () => {
    const { cwd, out, log } = await checkpointedLog();
    expect(out.checkpoints).toMatchObject({ sizes: [10, 20, 25], signatures: 3 });
    expect(lines(log).every((l) => JSON.parse(l).signature === null)).toBe(true);
    const v = await verify(cwd);
    expect(v.code).toBe(0);
    expect(v.out.checkpoints).toMatchObject({ found: 3, verified: 3, coveredEvents: 25 });
    // The sidecar's notes are C2SP checkpoints: origin, size, base64 root, a blank line, "— name sig".
    const note = JSON.parse(lines(`${log}.checkpoints.jsonl`)[0]!).note as string;
    // One extension line names the events its writer vouches for (all of them here: it wrote them).
    expect(note).toMatch(
      /^agentkeys\.local\/a\.jsonl-[0-9a-f]{8}\n10\n[A-Za-z0-9+/]{43}=\nagentkeys\/vouched 1-10\n\n— audit-1 [A-Za-z0-9+/]+=*\n$/,
    );
  });

  it('a changed created_at (not covered by per-row signatures) is CHECKPOINT_ROOT_MISMATCH, narrowed to its checkpoint', async () => {
    const { cwd, log } = await checkpointedLog();
    const rows = lines(log);
    const row = JSON.parse(rows[13]!);
    rows[13] = JSON.stringify({ ...row, created_at: '2020-01-01T00:00:00.000Z' });
    rewrite(log, rows);
    const v = await verify(cwd);
    expect(v.code).toBe(3);
    const mismatch = v.out.findings.filter((f) => f.code === 'CHECKPOINT_ROOT_MISMATCH');
    // One finding per broken range: the change also breaks the checkpoint at 25, which is counted.
    expect(mismatch.map((f) => f.index)).toEqual([20]);
    expect(JSON.stringify(mismatch[0])).toContain('11..20');
    expect(JSON.stringify(mismatch[0])).toContain('breaks the 1 later checkpoint(s) up to 25');
  });

  it('a changed payload breaks the link too; reordered and inserted events are named', async () => {
    const { cwd, log } = await checkpointedLog();
    const rows = lines(log);
    rewrite(
      log,
      rows.map((l, i) => (i === 4 ? l.replace('"n":5', '"n":55') : l)),
    );
    const changed = await verify(cwd);
    // Event 6's link names a digest no event has now: without a per-row signature on event 5, an
    // edit and a removal look alike to the link (ORPHAN); the checkpoint says which range changed.
    expect(
      changed.out.findings.filter((f) => f.code !== 'CHECKPOINT_ROOT_MISMATCH').map((f) => [f.index, f.code]),
    ).toEqual([[6, 'ORPHAN']]);
    expect(JSON.stringify(changed.out.findings)).toContain('event 5 (unsigned) was changed, or events between 5 and 6');
    expect(changed.out.findings).toContainEqual(
      expect.objectContaining({ code: 'CHECKPOINT_ROOT_MISMATCH', index: 10 }),
    );
    const swapped = [...rows];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    rewrite(log, swapped);
    expect((await verify(cwd)).out.findings.some((f) => f.code === 'PREV_HASH_MISMATCH' && f.index === 3)).toBe(true);
    rewrite(log, [
      ...rows.slice(0, 7),
      rows[7]!.replace(/"id":"[^"]+"/, '"id":"00000000-0000-4000-8000-000000000000"'),
      ...rows.slice(7),
    ]);
    const inserted = await verify(cwd);
    expect(inserted.code).toBe(3);
    expect(codes(inserted.out)).toContain('CHECKPOINT_ROOT_MISMATCH');
  });

  it('one changed event among 1,000 is named, with one root mismatch for its range and a count of the rest', async () => {
    const { cwd, log } = await checkpointedLog(1000, '10');
    const rows = lines(log);
    rewrite(
      log,
      rows.map((l, i) => (i === 500 ? l.replace('"n":501', '"n":-501') : l)),
    );
    const v = await verify(cwd);
    expect(v.code).toBe(3);
    expect(v.out.findings.map((f) => [f.index, f.code])).toEqual([
      [502, 'ORPHAN'],
      [510, 'CHECKPOINT_ROOT_MISMATCH'],
    ]);
    const text = JSON.stringify(v.out.findings);
    expect(text).toContain('event 501 (unsigned) was changed, or events between 501 and 502 were removed');
    expect(text).toContain('501..510');
    expect(text).toContain('breaks the 49 later checkpoint(s) up to 1000');
  });

  it('a log cut below its newest checkpoint is TRUNCATED, with no anchor needed', async () => {
    const { cwd, log } = await checkpointedLog();
    rewrite(log, lines(log).slice(0, 22));
    const v = await verify(cwd);
    expect(v.code).toBe(3);
    expect(v.out.findings).toContainEqual(expect.objectContaining({ code: 'TRUNCATED', index: 23 }));
  });

  it('forged checkpoints: another key is CHECKPOINT_UNSIGNED, an edited note CHECKPOINT_SIGNATURE_INVALID', async () => {
    const { cwd, log } = await checkpointedLog();
    const sidecar = `${log}.checkpoints.jsonl`;
    const records = lines(sidecar).map((l) => JSON.parse(l) as { note: string });
    // An edited note: the signature by a registry key no longer verifies.
    const edited = records[1]!.note.replace('\n20\n', '\n19\n');
    writeFileSync(sidecar, `${JSON.stringify({ ...records[1], note: edited })}\n`);
    const bad = await verify(cwd);
    expect(bad.code).toBe(3);
    expect(codes(bad.out)).toContain('CHECKPOINT_SIGNATURE_INVALID');
    // A real checkpoint of the log, signed by a key signers.json does not hold: it counts for nothing.
    await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'mallory', '--signers', 'other.json'], {
      cwd,
    });
    writeFileSync(sidecar, '');
    // (With its own registry: a writer publishes its kid into the registry it names, issue 24.)
    const forged = await runCli(['audit', 'checkpoint', '--log', 'a.jsonl', '--key', 'local:mallory', '--adopt'], {
      cwd,
      env: { AGENTKEYS_SIGNERS: 'other.json' },
    });
    expect(forged.code, forged.stderr).toBe(0);
    expect(lines(sidecar)[0]).toContain('— mallory ');
    expect(codes((await verify(cwd)).out)).toContain('CHECKPOINT_UNSIGNED');
    writeFileSync(sidecar, 'not a record\n');
    expect(codes((await verify(cwd)).out)).toContain('CHECKPOINT_MALFORMED');
  });

  it('a writer SIGKILLed between append and checkpoint leaves UNCHECKPOINTED (exit 5); audit checkpoint --adopt covers it on the record', async () => {
    const { cwd, log } = await checkpointedLog(10, '10');
    const child = spawn(
      process.execPath,
      [CLI, 'sign', '--log', 'a.jsonl', '--key', 'local:audit-1', '--batch', '--checkpoint-every', '100'],
      {
        cwd,
        env: { ...process.env, AGENTKEYS_TEST_PAUSE_AFTER_APPEND: '1', NO_COLOR: '1' },
      },
    );
    child.stdin.end(events(5, 11));
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (d: Buffer) => d.toString().includes('paused after append') && resolve()),
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    expect(lines(log)).toHaveLength(15);
    const v = await verify(cwd);
    expect(v.code).toBe(5);
    expect(v.out.ok).toBe(true);
    expect(v.out.findings).toEqual([expect.objectContaining({ code: 'UNCHECKPOINTED', index: 11 })]);
    // No writer vouched for 11..15: audit checkpoint refuses to until the operator says so.
    const refused = await runCli(['audit', 'checkpoint', '--log', 'a.jsonl', '--key', 'local:audit-1'], { cwd });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('LOG_UNVOUCHED_EVENTS');
    expect(refused.stderr).toContain('--adopt');
    const fix = await runCli(
      ['--json', 'audit', 'checkpoint', '--log', 'a.jsonl', '--key', 'local:audit-1', '--adopt'],
      {
        cwd,
      },
    );
    expect(JSON.parse(fix.stdout)).toMatchObject({ sizes: [15], signatures: 1, adopted: [[11, 15]] });
    const note = JSON.parse(lines(`${log}.checkpoints.jsonl`).at(-1)!).note as string;
    expect(note).toMatch(/\nagentkeys\/adopted 11-15 by [^\s]+@[^\s]+\n\n/);
    // Adopted events are shown, with their own code, and do not fail verification.
    const after = await verify(cwd);
    expect(after.code).toBe(0);
    expect(after.out.findings).toEqual([expect.objectContaining({ code: 'ADOPTED', index: 11 })]);
  });

  it('mixed logs: per-row signed events, then checkpoint mode, verify as one chain', async () => {
    const cwd = tempDir();
    await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'audit-1'], { cwd });
    await runCli(['sign', '--log', 'a.jsonl', '--key', 'local:audit-1', '--batch'], { cwd, input: events(4) });
    await runCli(['sign', '--log', 'a.jsonl', '--key', 'local:audit-1', '--batch', '--checkpoint-every', '3'], {
      cwd,
      input: events(5, 5),
    });
    const v = await runCli(['--json', 'verify-audit', '--log', 'a.jsonl'], { cwd });
    expect(v.code, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout).checkpoints).toMatchObject({ coveredEvents: 9 });
  });

  it('audit prove writes a bundle that verify-audit --proof checks with signers.json alone', async () => {
    const { cwd, log } = await checkpointedLog();
    const id = JSON.parse(lines(log)[6]!).id as string;
    const prove = await runCli(['audit', 'prove', '--log', 'a.jsonl', '--id', id, '--out', 'p.json'], { cwd });
    const twice = await runCli(['--json', 'audit', 'prove', '--log', 'a.jsonl', '--id', id, '--out', 'p.json'], {
      cwd,
    });
    expect(JSON.parse(twice.stdout).error.code).toBe('OUTPUT_EXISTS');
    expect(prove.code, prove.stderr).toBe(0);
    const bundle = JSON.parse(readFileSync(path.join(cwd, 'p.json'), 'utf8'));
    expect(bundle).toMatchObject({ format: 'agentkeys-inclusion-proof/v1', leaf_index: 6, tree_size: 25 });
    const elsewhere = tempDir();
    writeFileSync(path.join(elsewhere, 'p.json'), JSON.stringify(bundle));
    writeFileSync(path.join(elsewhere, 'signers.json'), readFileSync(path.join(cwd, '.agentkeys/signers.json')));
    const ok = await runCli(['--json', 'verify-audit', '--proof', 'p.json', '--signers', 'signers.json'], {
      cwd: elsewhere,
    });
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, id, leafIndex: 6, treeSize: 25, signedBy: ['audit-1'] });
    writeFileSync(
      path.join(elsewhere, 'p.json'),
      JSON.stringify({ ...bundle, event: { ...bundle.event, actor_id: 'someone-else' } }),
    );
    const bad = await runCli(['--json', 'verify-audit', '--proof', 'p.json', '--signers', 'signers.json'], {
      cwd: elsewhere,
    });
    expect({ code: bad.code, error: JSON.parse(bad.stdout).error.code }).toEqual({ code: 3, error: 'PROOF_INVALID' });
    writeFileSync(path.join(elsewhere, 'p.json'), '{"format":"x"}');
    const malformed = await runCli(['--json', 'verify-audit', '--proof', 'p.json', '--signers', 'signers.json'], {
      cwd: elsewhere,
    });
    expect(JSON.parse(malformed.stdout).error.code).toBe('PROOF_MALFORMED');
  });

  it('audit consistency: a later log extends an earlier checkpoint; a rewritten history does not', async () => {
    const { cwd, log } = await checkpointedLog(10, '5');
    const first = JSON.parse(lines(`${log}.checkpoints.jsonl`)[0]!).note as string;
    writeFileSync(path.join(cwd, 'old.note'), first);
    await runCli(['sign', '--log', 'a.jsonl', '--key', 'local:audit-1', '--batch', '--checkpoint-every', '5'], {
      cwd,
      input: events(7, 11),
    });
    const ok = await runCli(['--json', 'audit', 'consistency', '--log', 'a.jsonl', '--old', 'old.note'], { cwd });
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, old: { size: 5 }, current: { size: 17 } });
    const rows = lines(log);
    rewrite(
      log,
      rows.map((l, i) => (i === 1 ? l.replace('"agent-7"', '"agent-8"') : l)),
    );
    const bad = await runCli(['--json', 'audit', 'consistency', '--log', 'a.jsonl', '--old', 'old.note'], { cwd });
    expect({ code: bad.code, error: JSON.parse(bad.stdout).error.code }).toEqual({
      code: 3,
      error: 'CONSISTENCY_FAILED',
    });
  });

  it("audit checkpoint --out writes the note consistency takes; --old-size finds the log's own; --out never overwrites", async () => {
    const { cwd } = await checkpointedLog(10, '5');
    const saved = await runCli(
      ['--json', 'audit', 'checkpoint', '--log', 'a.jsonl', '--key', 'local:audit-1', '--out', 'old.note'],
      {
        cwd,
      },
    );
    expect(saved.code, saved.stdout + saved.stderr).toBe(0);
    await runCli(['sign', '--log', 'a.jsonl', '--key', 'local:audit-1', '--batch', '--checkpoint-every', '5'], {
      cwd,
      input: events(7, 11),
    });
    const byFile = await runCli(['--json', 'audit', 'consistency', '--log', 'a.jsonl', '--old', 'old.note'], { cwd });
    expect(JSON.parse(byFile.stdout)).toMatchObject({ ok: true, old: { size: 10 } });
    const bySize = await runCli(['--json', 'audit', 'consistency', '--log', 'a.jsonl', '--old-size', '5'], { cwd });
    expect(JSON.parse(bySize.stdout)).toMatchObject({ ok: true, old: { size: 5 } });
    const noSize = await runCli(['--json', 'audit', 'consistency', '--log', 'a.jsonl', '--old-size', '6'], { cwd });
    expect(JSON.parse(noSize.stdout).error).toMatchObject({
      code: 'CHECKPOINT_NOT_FOUND',
      hint: expect.stringContaining('5, 10'),
    });
    const again = await runCli(
      ['--json', 'audit', 'checkpoint', '--log', 'a.jsonl', '--key', 'local:audit-1', '--out', 'old.note'],
      {
        cwd,
      },
    );
    expect(JSON.parse(again.stdout).error.code).toBe('OUTPUT_EXISTS');
    writeFileSync(path.join(cwd, 'junk.note'), 'not a checkpoint\n');
    const junk = await runCli(['--json', 'audit', 'consistency', '--log', 'a.jsonl', '--old', 'junk.note'], { cwd });
    expect({ code: junk.code, error: JSON.parse(junk.stdout).error }).toMatchObject({
      code: 2,
      error: { code: 'CHECKPOINT_MALFORMED', hint: expect.stringContaining('audit checkpoint --log') },
    });
  });
});
