// Issue 23: a writer's lock on a file log, under contention and when it is lost. A batch that
// signs for longer than the lock's stale threshold keeps its lock fresh (the signing loop yields to
// the refresh timer), so a second writer waits instead of taking it; a lock taken from under a
// writer ends in LOG_LOCK_LOST with nothing written, never proper-lockfile's uncaught throw.
// AGENTKEYS_LOCK_STALE_MS=2000 (the library's minimum) keeps the test short.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const env = { AGENTKEYS_LOCK_STALE_MS: '2000' };
const EVENTS = 20_000; // about 3 s of signing here: longer than the stale threshold

async function setup(): Promise<{ cwd: string; batch: string }> {
  const cwd = tempDir();
  expect((await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'a1'], { cwd })).code).toBe(0);
  const batch = Array.from({ length: EVENTS }, (_, i) => JSON.stringify({ event_type: 't', payload: { i } })).join(
    '\n',
  );
  return { cwd, batch: `${batch}\n` };
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);
const until = async (ok: () => boolean) => {
  for (let waited = 0; !ok() && waited < 20_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
};

describe('the file log lock', () => {
  it('a batch longer than the stale threshold keeps its lock; a second writer waits, and both land', async () => {
    const { cwd, batch } = await setup();
    const log = path.join(cwd, 'a.jsonl');
    const first = runCli(['sign', '--log', 'a.jsonl', '--key', 'local:a1', '--batch'], { cwd, input: batch, env });
    await until(() => existsSync(`${log}.lock`));
    const second = await runCli(
      ['sign', '--log', 'a.jsonl', '--key', 'local:a1', '--event-type', 'x', '--payload', '{}'],
      {
        cwd,
        env,
      },
    );
    const r = await first;
    expect(r.code, r.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(lines(log)).toHaveLength(EVENTS + 1);
    const verified = await runCli(['verify-audit', '--log', 'a.jsonl'], { cwd });
    expect(verified.code, verified.stdout).toBe(0);
  }, 120_000);

  it('a lock taken from under a writer ends in LOG_LOCK_LOST, nothing written', async () => {
    const { cwd, batch } = await setup();
    const log = path.join(cwd, 'a.jsonl');
    writeFileSync(log, '');
    const writer = runCli(['--json', 'sign', '--log', 'a.jsonl', '--key', 'local:a1', '--batch'], {
      cwd,
      input: batch,
      env,
    });
    await until(() => existsSync(`${log}.lock`));
    await new Promise((r) => setTimeout(r, 300));
    // Another process "takes" the lock: a new lock folder, with another mtime.
    rmSync(`${log}.lock`, { recursive: true, force: true });
    mkdirSync(`${log}.lock`);
    const r = await writer;
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('LOG_LOCK_LOST');
    expect(r.stderr).not.toMatch(/INTERNAL|node_modules\/proper-lockfile/); // a named error, not the library's throw
    expect(lines(log)).toEqual([]);
    rmSync(`${log}.lock`, { recursive: true, force: true });
  }, 120_000);
});
