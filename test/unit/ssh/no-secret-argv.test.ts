// Issue 23: a script run on the broker host never travels on a command line (`ps` shows argv to
// every local user, and /proc/PID/cmdline on the host to every user there). A stand-in for ssh
// records its argv and runs the remote command locally, stdin passed through, as ssh would.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileScript } from '../../../src/broker/host-files.js';
import { sshShell, type SshConnection } from '../../../src/ssh/connection.js';
import { tempDir } from '../../helpers/tmp.js';

describe('host scripts over ssh', () => {
  it('a file with a secret is written through stdin: neither the secret nor its base64 is in any argv', async () => {
    const dir = tempDir();
    const argvLog = path.join(dir, 'argv.log');
    const fakeSsh = path.join(dir, 'ssh');
    // ssh [options] host -- REMOTE: log every argument, then run REMOTE with this stdin.
    writeFileSync(
      fakeSsh,
      `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> ${JSON.stringify(argvLog)}; done\n` +
        'while [ "$1" != "--" ]; do shift; done; shift\nexec sh -c "$1"\n',
    );
    chmodSync(fakeSsh, 0o755);
    const conn: SshConnection = {
      plan: { user: 'root', host: '127.0.0.1', mode: 'pem' } as SshConnection['plan'],
      binary: fakeSsh,
      args: ['-p', '2222', 'root@127.0.0.1'],
      reused: false,
      close: () => undefined,
    };
    const secret = 'DATABASE_PASSWORD=marker-s3cret-4f2a';
    const target = path.join(dir, 'etc', 'broker.env');
    const result = await sshShell(conn).run(writeFileScript(target, `${secret}\n`, 0o600));
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe(`${secret}\n`);
    expect(statSync(target).mode & 0o777).toBe(0o600);
    const argv = readFileSync(argvLog, 'utf8');
    expect(argv).not.toContain('marker-s3cret');
    expect(argv).not.toContain(Buffer.from(`${secret}\n`).toString('base64').slice(0, 16));
    // A command in the script that reads stdin does not swallow the rest of the script.
    const r = await sshShell(conn).run('cat >/dev/null\necho after');
    expect(r.stdout.trim()).toBe('after');
  });
});
