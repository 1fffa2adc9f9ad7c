// What a new operator meets (issue 14): typos, missing arguments, wrong paths and the most natural
// mistakes, each a named error with the next command, through the built CLI. No AWS here.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

async function ok(args: string[], cwd: string, input?: string, env?: Record<string, string>) {
  const r = await runCli(args, { cwd, ...(input !== undefined ? { input } : {}), ...(env ? { env } : {}) });
  if (r.code !== 0) throw new Error(`agentkeys ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

async function chain(cwd: string, n: number): Promise<string> {
  await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
  const batch = Array.from({ length: n }, (_, i) => JSON.stringify({ event_type: 'e', payload: { i } })).join('\n');
  await ok(['sign', '--log', 'audit.jsonl', '--key', 'local:k1', '--batch'], cwd, batch);
  return path.join(cwd, 'audit.jsonl');
}

const json = (stdout: string) =>
  JSON.parse(stdout) as {
    ok: boolean;
    error?: { code: string; hint?: string };
    findings?: { code: string; index: number; message: string }[];
  };

/** Runs a shell line with the CLI as `ak`, under a pseudo-terminal when asked (util-linux script). */
function shell(
  line: string,
  cwd: string,
  opts: { pty?: boolean; env?: Record<string, string> } = {},
): { status: number; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, ak: `${process.execPath} -- ${CLI}`, ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === '') delete env[k]; // '' means: unset it
  const r = opts.pty
    ? spawnSync('script', ['-qec', `bash -o pipefail -c '${line.replace(/'/g, `'\\''`)}'`, '/dev/null'], {
        cwd,
        env,
        encoding: 'utf8',
      })
    : spawnSync('bash', ['-o', 'pipefail', '-c', line], { cwd, env, encoding: 'utf8' });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe('agentkeys owns its flags', () => {
  it('--env-file missing.env reaches agentkeys through the installed bin (Node 20 would exit 9)', () => {
    chmodSync(CLI, 0o755);
    const cwd = tempDir();
    const r = spawnSync(CLI, ['--json', 'sign', '--env-file', 'missing.env', '--log', 'a.jsonl', '--payload', '{}'], {
      cwd,
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(json(r.stdout).error).toMatchObject({
      code: 'ENV_FILE_NOT_FOUND',
      hint: expect.stringContaining('--settings'),
    });
  });

  it('--json errors from flag parsing are JSON on stdout (FLAG_UNKNOWN, FLAG_VALUE_MISSING, exit 2)', async () => {
    const a = await runCli(['--json', 'sign', '--lgo', 'x'], { cwd: tempDir() });
    expect(a.code).toBe(2);
    expect(json(a.stdout)).toMatchObject({ ok: false, error: { code: 'FLAG_UNKNOWN' } });
    const b = await runCli(['--json', 'verify-audit', '--log'], { cwd: tempDir() });
    expect(json(b.stdout).error?.code).toBe('FLAG_VALUE_MISSING');
  });

  it("a flag or command typo is agentkeys' own error form: ✖ … [FLAG_UNKNOWN] and → did you mean …?", async () => {
    const a = await runCli(['sign', '--lgo', 'x'], { cwd: tempDir() });
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("✖ unknown option '--lgo' [FLAG_UNKNOWN]");
    expect(a.stderr).toContain('→ did you mean --log?');
    const b = await runCli(['sgin'], { cwd: tempDir() });
    expect(b.stderr).toContain('[COMMAND_UNKNOWN]');
    expect(b.stderr).toContain('→ did you mean sign?');
    const c = await runCli(['verify-audit', '--bogus'], { cwd: tempDir() });
    expect(c.stderr).toContain('→ agentkeys verify-audit --help lists what it takes');
  });

  it('walkthrough rough edges: --json --version, --signers DIR, REQUIRE_KMS hints, ssh --test', async () => {
    const cwd = tempDir();
    const v = await runCli(['--json', '--version'], { cwd });
    expect(json(v.stdout)).toMatchObject({ ok: true, version: expect.any(String), node: process.version });
    writeFileSync(path.join(cwd, 'empty.jsonl'), '');
    const dir = await runCli(['--json', 'verify-audit', '--log', 'empty.jsonl', '--signers', cwd], { cwd });
    expect([dir.code, json(dir.stdout).error?.code]).toEqual([2, 'PATH_IS_DIRECTORY']);
    const kms = await runCli(['--json', 'sign', '--log', 'a.jsonl', '--event-type', 't', '--payload', '{}'], {
      cwd,
      env: { REQUIRE_KMS: 'true' },
    });
    expect(json(kms.stdout).error?.hint).toContain('--key kms:');
    expect(json(kms.stdout).error?.hint).not.toContain('local:');
    const ssh = await runCli(['--json', 'ssh', '--test', 'prod'], { cwd });
    expect([ssh.code, json(ssh.stdout).error?.code]).toEqual([2, 'FLAG_CONFLICT']);
    // The .pem is checked before ssh runs: missing, or readable by others (ssh would refuse it).
    const nopem = await runCli(['--json', 'ssh', 'test', '--fallback', '--pem', 'missing.pem'], { cwd });
    expect(json(nopem.stdout).error?.code).toBe('KEY_NOT_FOUND');
    writeFileSync(path.join(cwd, 'open.pem'), 'x', { mode: 0o644 });
    const open = await runCli(['--json', 'ssh', 'test', '--fallback', '--pem', 'open.pem'], { cwd });
    expect(json(open.stdout).error).toMatchObject({ code: 'KEY_FILE_TOO_OPEN', hint: 'chmod 600 open.pem' });
  });

  it('hostile and empty inputs read plainly: escaped bytes, missing proof fields, an empty log, a bare key name', async () => {
    const cwd = tempDir();
    expect((await runCli(['keys', 'create', '--local', '--alg', 'ecdsa-secp256k1', '--kid', 'e1'], { cwd })).code).toBe(
      0,
    );
    writeFileSync(path.join(cwd, 'bin.jsonl'), Buffer.from([0, 1, 0x62, 0xff, 10]));
    const bin = await runCli(['verify-audit', '--log', 'bin.jsonl'], { cwd });
    expect(bin.stdout).toContain('\\x00\\x01b\\ufffd');
    expect(bin.stdout).not.toMatch(/[\u0000\u0001]/);
    // A file whose first lines are not JSON is named for what it is, not listed line by line.
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i} \u0000\u00ff`).join('\n');
    writeFileSync(path.join(cwd, 'notes.txt'), lines);
    const notes = await runCli(['--json', 'verify-audit', '--log', 'notes.txt'], { cwd });
    const codes = (JSON.parse(notes.stdout) as { findings: { code: string }[] }).findings.map((f) => f.code);
    expect({ exit: notes.code, codes }).toEqual({
      exit: 3,
      codes: ['MALFORMED_ROW', 'MALFORMED_ROW', 'MALFORMED_ROW', 'NOT_JSON_LINES'],
    });
    writeFileSync(path.join(cwd, 'p.json'), '{"format":"agentkeys-inclusion-proof/v1","extra":1}');
    const proof = await runCli(['--json', 'verify-audit', '--proof', 'p.json'], { cwd });
    const proofError = JSON.parse(proof.stdout).error as { message: string };
    expect(proofError.message).toContain('missing audit_path, checkpoint, event, leaf_index, tree_size');
    expect(proofError.message).toContain('unknown field(s) "extra"');
    writeFileSync(path.join(cwd, 'empty.jsonl'), '');
    const empty = await runCli(['verify-audit', '--log', 'empty.jsonl'], { cwd });
    expect(empty.stdout).toContain('holds no events and no anchor');
    const bare = await runCli(['--json', 'evm', 'address', '--key', 'e1'], { cwd });
    expect(json(bare.stdout).error).toMatchObject({
      code: 'KEY_REF_AMBIGUOUS',
      hint: expect.stringContaining('--key local:e1'),
    });
  });

  it('flags that would be ignored are refused: sign --batch --payload, rotate-key --jwt --alias', async () => {
    const cwd = tempDir();
    const a = await runCli(['--json', 'sign', '--log', 'a.jsonl', '--batch', '--payload', '{}'], { cwd, input: '' });
    expect(json(a.stdout).error?.code).toBe('FLAG_CONFLICT');
    const b = await runCli(['--json', 'rotate-key', '--jwt', 'jwt', '--alias', 'alias/x', '--yes'], { cwd });
    expect(json(b.stdout).error?.code).toBe('FLAG_CONFLICT');
    const c = await runCli(['--json', 'rotate-key', '--jwt', 'jwt'], { cwd });
    expect(c.code).toBe(1);
    expect(json(c.stdout).error?.code).toBe('CONFIRMATION_REQUIRED');
    expect(existsSync(path.join(cwd, 'jwt'))).toBe(false);
  });
});

describe('paths', () => {
  it('a mistyped parent folder is refused, never created (PARENT_DIR_MISSING)', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    for (const args of [
      ['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k2', '--dir', path.join(cwd, 'nonexistent', 'zz')],
      [
        'sign',
        '--log',
        path.join(cwd, 'nonexist', 'dir', 'a.jsonl'),
        '--key',
        'local:k1',
        '--event-type',
        't',
        '--payload',
        '{}',
      ],
    ]) {
      const r = await runCli(['--json', ...args], { cwd });
      expect({ code: r.code, error: json(r.stdout).error?.code }).toEqual({ code: 2, error: 'PARENT_DIR_MISSING' });
    }
    await ok(['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{}'], cwd);
    const r = await runCli(
      ['--json', 'audit', 'export', '--log', 'a.jsonl', '--out', path.join(cwd, 'nonexist2', 'x.jsonl')],
      { cwd },
    );
    expect(json(r.stdout).error?.code).toBe('PARENT_DIR_MISSING');
    expect(
      existsSync(path.join(cwd, 'nonexistent')) ||
        existsSync(path.join(cwd, 'nonexist')) ||
        existsSync(path.join(cwd, 'nonexist2')),
    ).toBe(false);
  });

  it('verify-audit --log <a directory> is LOG_NOT_A_FILE (exit 2), not an internal error', async () => {
    const r = await runCli(['--json', 'verify-audit', '--log', tempDir()], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(json(r.stdout).error?.code).toBe('LOG_NOT_A_FILE');
  });

  it('a missing key is KEY_NOT_FOUND with exit 2 for local: and file: alike', async () => {
    for (const key of ['local:nope', 'file:nope.pem']) {
      const r = await runCli(
        ['--json', 'sign', '--log', 'a.jsonl', '--key', key, '--event-type', 't', '--payload', '{}'],
        { cwd: tempDir() },
      );
      expect({ key, code: r.code, error: json(r.stdout).error?.code }).toEqual({
        key,
        code: 2,
        error: 'KEY_NOT_FOUND',
      });
    }
  });

  it('db migrate with a file path says it is not a postgres:// URL (DATABASE_URL_INVALID)', async () => {
    const r = await runCli(['--json', 'db', 'migrate', '--database-url', 'ak1.db'], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(json(r.stdout).error?.code).toBe('DATABASE_URL_INVALID');
  });
});

describe('verify-audit tells the truth about what is missing', () => {
  it('TRUNCATED names where events went: head cut, a middle event, the tail', async () => {
    const cwd = tempDir();
    const log = await chain(cwd, 13);
    const rows = readFileSync(log, 'utf8').trim().split('\n');
    const variant = (name: string, kept: string[]) => {
      const file = path.join(cwd, name);
      writeFileSync(file, `${kept.join('\n')}\n`);
      writeFileSync(`${file}.anchor.json`, readFileSync(`${log}.anchor.json`));
      return file;
    };
    const findings = async (file: string) =>
      json((await runCli(['--json', 'verify-audit', '--log', file], { cwd })).stdout).findings!;
    const head = (await findings(variant('head.jsonl', rows.slice(2)))).find((f) => f.code === 'TRUNCATED')!;
    expect(head.message).toMatch(/2 event\(s\) were removed before event 1/);
    expect(head.message).not.toMatch(/12\.\.13/);
    const middle = (await findings(variant('middle.jsonl', [...rows.slice(0, 4), ...rows.slice(5)]))).find(
      (f) => f.code === 'TRUNCATED',
    )!;
    expect(middle.message).toMatch(/removed before event 5/);
    const tail = (await findings(variant('tail.jsonl', rows.slice(0, 12)))).find((f) => f.code === 'TRUNCATED')!;
    expect(tail).toMatchObject({
      index: 13,
      message: expect.stringMatching(/events 13\.\.13 are missing from the end/),
    });
  });

  it('an HMAC log verified without its secret says to pass --hmac-key', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd); // a registry exists, without h1
    await ok(['keys', 'create', '--local', '--alg', 'hmac-sha256', '--kid', 'h1'], cwd);
    await ok(['sign', '--log', 'a.jsonl', '--key', 'local:h1', '--event-type', 't', '--payload', '{}'], cwd);
    const r = await runCli(['--json', 'verify-audit', '--log', 'a.jsonl', '--no-anchor'], { cwd });
    expect(r.code).toBe(3);
    expect(json(r.stdout).findings![0]!.message).toContain('--hmac-key h1=FILE');
  });

  it('| head -1 on a long report: no EPIPE crash, the exit code is the verdict', async () => {
    const cwd = tempDir();
    const log = await chain(cwd, 300);
    writeFileSync(log, readFileSync(log, 'utf8').replace(/"i":(\d+)/g, '"i":"$1"')); // 300 bad signatures
    const r = shell(`$ak verify-audit --log audit.jsonl | head -1`, cwd);
    expect(r.status).toBe(3);
    expect(r.out).not.toMatch(/EPIPE|Error:/);
    const other = tempDir();
    await chain(other, 3);
    expect(shell('$ak verify-audit --log audit.jsonl | head -1', other).status).toBe(0);
  });
});

describe('ssh', () => {
  it('no ssh client on PATH is SSH_NOT_FOUND (exit 2)', async () => {
    const r = await runCli(['--json', 'ssh', 'test'], { cwd: tempDir(), env: { PATH: tempDir() } });
    expect(r.code).toBe(2);
    expect(json(r.stdout).error?.code).toBe('SSH_NOT_FOUND');
  });

  it('an unknown stack word is refused, and the broker env hint names --broker-env-file', async () => {
    const env = { AGENTKEYS_SSH_BINARY: '/bin/true' };
    const a = await runCli(['--json', 'ssh', 'staging'], { cwd: tempDir(), env });
    expect({ code: a.code, error: json(a.stdout).error?.code }).toEqual({ code: 2, error: 'STACK_UNKNOWN' });
    const b = await runCli(['--json', 'ssh', 'test', '--broker-env-file', 'nope.env'], { cwd: tempDir(), env });
    expect(json(b.stdout).error).toMatchObject({
      code: 'ENV_FILE_NOT_FOUND',
      hint: expect.stringContaining('--broker-env-file'),
    });
    const c = await runCli(['ssh', '--broker-env-file', 'nope.env'], { cwd: tempDir(), env });
    expect(c.stderr).toContain('no stack given: using prod');
  });
});

describe('terminal behaviour', () => {
  it('progress goes to a terminal stderr only, never into --json stdout', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    writeFileSync(
      path.join(cwd, 'batch.jsonl'),
      Array.from({ length: 2500 }, (_, i) => JSON.stringify({ event_type: 'e', payload: { i } })).join('\n'),
    );
    const signed = shell('$ak sign --log audit.jsonl --key local:k1 --batch < batch.jsonl > out.txt', cwd, {
      pty: true,
    });
    expect(signed.status).toBe(0);
    expect(signed.out).toContain('signing 1,000/2,500 events');
    const verified = shell('$ak --json verify-audit --log audit.jsonl > report.json', cwd, { pty: true });
    expect(verified.out).toMatch(/verifying [\d,]+ events/);
    expect(json(readFileSync(path.join(cwd, 'report.json'), 'utf8')).ok).toBe(true);
    const piped = await runCli(['verify-audit', '--log', 'audit.jsonl'], { cwd });
    expect(piped.stderr).not.toContain('verifying');
    const exported = shell('$ak audit export --log audit.jsonl --out copy.jsonl > /dev/null', cwd, { pty: true });
    expect(exported.out).toContain('copying audit.jsonl → copy.jsonl: 1,000 events');
  });

  it('a writer waiting for a held lock says so on a terminal', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    mkdirSync(path.join(cwd, 'a.jsonl.lock')); // another writer's lock (proper-lockfile's directory)
    const release = setTimeout(() => rmSync(path.join(cwd, 'a.jsonl.lock'), { recursive: true }), 1500);
    const r = await new Promise<string>((resolve) => {
      const child = spawn(
        'script',
        [
          '-qec',
          `${process.execPath} -- ${CLI} sign --log a.jsonl --key local:k1 --event-type t --payload '{}'`,
          '/dev/null',
        ],
        { cwd },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', () => resolve(out));
    });
    clearTimeout(release);
    expect(r).toContain('waiting for the lock on a.jsonl');
    expect(r).toContain('signed 1 event(s)');
  });

  it('encrypt refuses to write binary ciphertext to a terminal (OUTPUT_IS_TTY), before any KMS call', () => {
    const r = shell('$ak encrypt --key kms:alias/any < /dev/null', tempDir(), {
      pty: true,
      env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' },
    });
    expect(r.status).toBe(2);
    expect(r.out).toContain('OUTPUT_IS_TTY');
  });

  it('NO_COLOR and --no-color turn colour off on a terminal; demo.sh is plain when piped', async () => {
    const cwd = tempDir();
    const line = '$ak keys create --local --alg ed25519 --kid';
    // supports-color reads TERM and CI, which CI machines set or leave unset: pin a colour terminal.
    const tty = { TERM: 'xterm-256color', CI: '', COLORTERM: '' };
    const colour = shell(`${line} c1`, cwd, { pty: true, env: { ...tty, NO_COLOR: '', FORCE_COLOR: '' } });
    expect(colour.out).toMatch(/\x1b\[3\dm/);
    expect(shell(`${line} c2`, cwd, { pty: true, env: { ...tty, NO_COLOR: '1', FORCE_COLOR: '' } }).out).not.toMatch(
      /\x1b\[/,
    );
    expect(
      shell(`$ak --no-color keys create --local --alg ed25519 --kid c3`, cwd, {
        pty: true,
        env: { ...tty, NO_COLOR: '', FORCE_COLOR: '' },
      }).out,
    ).not.toMatch(/\x1b\[/);
    const demo = execFileSync('sh', [path.resolve('bin/demo.sh')], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '' },
    });
    expect(demo).not.toMatch(/\x1b\[/);
  });

  it('completion bash completes commands and flags; --help shows global flags, an example and the exit codes', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'ak.bash'), (await ok(['completion', 'bash'], cwd)).stdout);
    const complete = (words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `source ak.bash; COMP_WORDS=(${words.map((w) => `"${w}"`).join(' ')}); COMP_CWORD=${words.length - 1}; _agentkeys; echo "\${COMPREPLY[@]}"`,
        ],
        { cwd, encoding: 'utf8' },
      ).trim();
    expect(complete(['agentkeys', 'keys', 'cr'])).toBe('create');
    expect(complete(['agentkeys', 'evm', 'sign-tx', '--t'])).toBe('--tx');
    expect(complete(['agentkeys', '--json', 've'])).toBe('verify-audit');
    // Values: --alg and --spec offer theirs, ssh its stack words, and a file flag offers nothing
    // itself (bash's -o default then lists file names).
    expect(complete(['agentkeys', 'keys', 'create', '--alg', 'ecdsa'])).toBe('ecdsa-p256 ecdsa-secp256k1');
    expect(complete(['agentkeys', 'keys', 'create', '--spec', 'RSA_3'])).toBe('RSA_3072');
    expect(complete(['agentkeys', 'ssh', 'te'])).toBe('test');
    expect(complete(['agentkeys', 'sign', '--log', 'a'])).toBe('');
    for (const shellName of ['zsh', 'fish'])
      expect((await ok(['completion', shellName], cwd)).stdout).toContain('agentkeys');
    expect((await runCli(['--json', 'completion', 'tcsh'], { cwd })).code).toBe(2);
    const help = (await ok(['sign', '--help'], cwd)).stdout;
    expect(help).toContain('Global Options');
    expect(help).toContain('--json');
    expect(help).toMatch(/Examples:\n {2}\$ agentkeys sign/);
    expect(help).toContain('Exit codes: 0 signed · 3 the log no longer holds');
    // Every command and group in the tree (read from the completion script) shows an example.
    const bash = (await ok(['completion', 'bash'], cwd)).stdout;
    const paths = [...bash.matchAll(/^ {4}"([a-z -]+)"\) words=/gm)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(40);
    const missing: string[] = [];
    for (const p of paths)
      if (!/Examples:\n {2}\$ agentkeys/.test((await ok([...p.split(' '), '--help'], cwd)).stdout)) missing.push(p);
    expect(missing).toEqual([]);
    expect((await ok(['verify-audit', '--help'], cwd)).stdout).toContain(
      '5 intact, with events no checkpoint vouches for',
    );
    expect((await ok(['keys', 'should-rotate', '--help'], cwd)).stdout).toContain('0 due for rotation · 1 not due');
    // Env names in --help come from the settings table: --log is DATABASE_URL, the trail AGENTKEYS_AUDIT_LOG.
    const flat = (text: string) => text.replace(/\s+/g, ' ');
    const verifyHelp = flat((await ok(['verify-audit', '--help'], cwd)).stdout);
    expect(verifyHelp).toContain('(env AGENTKEYS_SIGNERS, KERNEL_PUBLIC_KEYS_PATH)');
    expect(verifyHelp).toMatch(/--log <log> JSON Lines file or postgres:\/\/ URL \(env DATABASE_URL\)/);
    expect(verifyHelp).toMatch(
      /--audit-log <log> record every KMS operation as a signed event in this chain \(env AGENTKEYS_AUDIT_LOG\)/,
    );
  });
});

describe('audit query and export', () => {
  it('query takes --actor/--event-type like sign (and the old --agent/--action)', async () => {
    const cwd = tempDir();
    await ok(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], cwd);
    for (const [actor, type] of [
      ['a-1', 'spawn'],
      ['a-2', 'spawn'],
      ['a-1', 'stop'],
    ]) {
      await ok(
        ['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--actor', actor!, '--event-type', type!, '--payload', '{}'],
        cwd,
      );
    }
    const q = async (...args: string[]) =>
      (
        JSON.parse((await ok(['--json', 'audit', 'query', '--log', 'a.jsonl', ...args], cwd)).stdout) as {
          events: unknown[];
        }
      ).events.length;
    expect(await q('--actor', 'a-1')).toBe(2);
    expect(await q('--actor', 'a-1', '--event-type', 'stop')).toBe(1);
    expect(await q('--agent', 'a-2', '--action', 'spawn')).toBe(1);
  });

  it('export copies the anchor with the chain; a broken chain exports with ✖ and exit 3', async () => {
    const cwd = tempDir();
    await chain(cwd, 5);
    await ok(['audit', 'export', '--log', 'audit.jsonl', '--out', 'copy.jsonl'], cwd);
    expect(existsSync(path.join(cwd, 'copy.jsonl.anchor.json'))).toBe(true);
    writeFileSync(
      path.join(cwd, 'copy.jsonl'),
      readFileSync(path.join(cwd, 'copy.jsonl'), 'utf8').split('\n').slice(0, 4).join('\n') + '\n',
    );
    const cut = await runCli(['--json', 'verify-audit', '--log', 'copy.jsonl'], { cwd });
    expect(json(cut.stdout).findings!.map((f) => f.code)).toContain('TRUNCATED'); // the copied anchor guards the copy
    const rows = readFileSync(path.join(cwd, 'audit.jsonl'), 'utf8').trim().split('\n');
    writeFileSync(path.join(cwd, 'broken.jsonl'), `${[rows[0], rows[2]].join('\n')}\n`);
    const broken = await runCli(
      ['audit', 'export', '--log', 'broken.jsonl', '--out', 'b2.jsonl', '--key', 'local:k1'],
      { cwd },
    );
    expect(broken.code).toBe(3);
    expect(broken.stdout).toMatch(/✖ copied 2 event/);
    expect(broken.stdout).toMatch(/does not verify .*first broken link at event 2/);
    expect(existsSync(path.join(cwd, 'b2.jsonl.anchor.json'))).toBe(true); // signed with --key for the copy
  });
});

describe('paths on the filesystem', () => {
  it('keys create --dir DIR creates DIR when its parent exists', async () => {
    const cwd = tempDir();
    mkdirSync(path.join(cwd, 'parent'));
    await ok(
      ['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1', '--dir', path.join(cwd, 'parent', 'keys-here')],
      cwd,
    );
    expect(existsSync(path.join(cwd, 'parent', 'keys-here', 'keys', 'k1.pem'))).toBe(true);
  });
});
