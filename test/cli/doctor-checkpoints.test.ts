// doctor --log on a checkpointed chain (issue 27): the newest checkpoint's age and the events it
// does not cover, as a check and as gauges promtool accepts.
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

describe('doctor audit.checkpoints', () => {
  it('says how many events wait for a checkpoint, and how old the newest is', async () => {
    const cwd = tempDir();
    await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], { cwd });
    writeFileSync(
      path.join(cwd, 'batch.jsonl'),
      Array.from({ length: 5 }, (_, i) => JSON.stringify({ event_type: 'e', payload: { i } })).join('\n'),
    );
    const signed = await runCli(
      ['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--batch', '--checkpoint-every', '3'],
      { cwd, input: readFileSync(path.join(cwd, 'batch.jsonl'), 'utf8') },
    );
    expect(signed.code, signed.stderr).toBe(0);
    // A writer still running has appended past its newest checkpoint (doctor counts; verify proves).
    const log = path.join(cwd, 'a.jsonl');
    appendFileSync(log, readFileSync(log, 'utf8').trim().split('\n').at(-1)! + '\n');
    const r = await runCli(['--json', 'doctor', '--log', 'a.jsonl', '--prometheus', 'd.prom'], { cwd });
    const check = (JSON.parse(r.stdout).checks as { id: string; status: string; detail: string }[]).find(
      (c) => c.id === 'audit.checkpoints',
    );
    expect(check?.status).toBe('ok');
    const text = readFileSync(path.join(cwd, 'd.prom'), 'utf8');
    const covered = Number(/covers (\d+) of 6 events/.exec(check!.detail)?.[1]);
    expect(covered).toBe(5);
    expect(text).toContain('agentkeys_audit_uncheckpointed_events{log="a.jsonl"} 1\n');
    expect(text).toMatch(/agentkeys_audit_checkpoint_age_seconds\{log="a\.jsonl"\} \d+\n/);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
  });
});
