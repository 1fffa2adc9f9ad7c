// Issue 23: a database password never reaches output, in any command that takes a database URL,
// in normal or --json output: a marker password after a raw '@' (the old regex masked up to the
// first '@' and showed the rest), and credentials in the query string (?password=,
// ?sslpassword=), which it never masked. Port 1 refuses at once.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const MARK = 'Mk7-s3cret';
const URLS = [
  `postgres://agentkeys:pw@${MARK}@127.0.0.1:1/agentkeys`,
  `postgresql://agentkeys@127.0.0.1:1/agentkeys?password=${MARK}q&sslpassword=${MARK}s`,
];

describe('database URLs are shown without their credentials', () => {
  it('sign, verify-audit, audit checkpoint, db migrate and mcp: normal and --json', async () => {
    const cwd = tempDir();
    expect((await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'a1'], { cwd })).code).toBe(0);
    for (const url of URLS) {
      const commands = [
        ['sign', '--log', url, '--key', 'local:a1', '--event-type', 't', '--payload', '{}'],
        ['verify-audit', '--log', url],
        ['audit', 'checkpoint', '--log', url, '--key', 'local:a1'],
        ['db', 'migrate', '--database-url', url],
        ['db', 'migrate', '--database-url', url, '--plan'],
        ['mcp', '--key-id', 'local:a1', '--audit-log', url],
      ];
      for (const args of commands) {
        for (const json of [[], ['--json']]) {
          const r = await runCli([...json, '--debug', ...args], { cwd });
          const out = r.stdout + r.stderr;
          expect(r.code, `${args.join(' ')}: ${out}`).not.toBe(0);
          expect(out, args.join(' ')).not.toContain(MARK);
          expect(out, args.join(' ')).not.toContain(encodeURIComponent(MARK));
        }
      }
    }
  }, 120_000);
});
