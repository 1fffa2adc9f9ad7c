// Where state lives (issue 26): `.agentkeys/` and `env/` resolve against the current folder, so a
// run from another folder would start a second one without a word. AGENTKEYS_HOME names one home
// for every folder, and a command that creates the state folder says where.
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

describe('the state folder', () => {
  it('AGENTKEYS_HOME keeps one .agentkeys for every folder; creating it is said on stderr', async () => {
    const home = tempDir();
    const a = path.join(tempDir(), 'a');
    const b = path.join(tempDir(), 'b');
    mkdirSync(a);
    mkdirSync(b);
    const env = { AGENTKEYS_HOME: home };
    const created = await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], { cwd: a, env });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain(`created the state folder ${path.join(home, '.agentkeys')}`);
    expect(existsSync(path.join(a, '.agentkeys'))).toBe(false);
    const signed = await runCli(
      ['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{}'],
      { cwd: b, env },
    );
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stderr).not.toContain('created the state folder');
    expect((await runCli(['verify-audit', '--log', 'a.jsonl'], { cwd: b, env })).code).toBe(0);
    const elsewhere = await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k2'], { cwd: a });
    expect(elsewhere.stderr).toContain('AGENTKEYS_HOME keeps one for every folder');
  });
});
