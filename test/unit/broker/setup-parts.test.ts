// The pure parts of broker setup: the DoH answer parser (untrusted input), the quoting every
// remote script relies on (checked by a real sh), and the redacted diff of a 0600 file.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseDohAnswer } from '../../../src/broker/dns.js';
import { fileDiff } from '../../../src/broker/steps/03-host-files.js';
import { buildMemoryProblem } from '../../../src/broker/steps/04-binaries.js';
import { shQuote } from '../../../src/ssh/connection.js';

describe('parseDohAnswer', () => {
  it('takes the A records and names every other answer', () => {
    const a = (data: string, type = 1) => ({ name: 'h.', type, data });
    expect(parseDohAnswer(JSON.stringify({ Status: 0, Answer: [a('x.', 5), a('3.214.219.209')] }))).toEqual({
      addresses: ['3.214.219.209'],
    });
    expect(parseDohAnswer(JSON.stringify({ Status: 3 }))).toEqual({ error: 'NXDOMAIN' });
    expect(parseDohAnswer(JSON.stringify({ Status: 0, Answer: [a('alias.example.', 5)] }))).toEqual({
      error: 'no A record',
    });
    expect(parseDohAnswer('<html>')).toEqual({ error: 'the DNS-over-HTTPS answer is not JSON' });
    expect(parseDohAnswer('{}')).toEqual({ error: 'the DNS-over-HTTPS answer has no Status' });
    expect(parseDohAnswer(JSON.stringify({ Status: 0, Answer: [a('not-an-ip')] }))).toEqual({ error: 'no A record' });
  });
});

describe('shQuote', () => {
  it('survives sh for quotes, dollars, backslashes and newlines', () => {
    for (const word of [`it's`, '$(rm -rf /)', 'a\\b', 'two\nlines', "''", '`id`', ''])
      expect(execFileSync('sh', ['-c', `printf '%s' ${shQuote(word)}`], { encoding: 'utf8' })).toBe(word);
  });
});

describe('fileDiff', () => {
  const want = (content: string, mode: number) => ({ path: 'etc/agentkeys/broker.env', content, mode });
  it('redacts the values of a 0600 file, marking the ones that changed', () => {
    const diff = fileDiff(
      want('A="new"\nB="same"\n', 0o600),
      { kind: 'file', content: 'A="old"\nB="same"\n', mode: 0o600 },
      false,
    )!;
    expect(diff).toContain('-A=<redacted>');
    expect(diff).toContain('+A=<redacted, changed>');
    expect(diff).not.toMatch(/new|old|same/);
  });
  it('shows values with --show-secret, and of files that are not secret', () => {
    const now = { kind: 'file' as const, content: 'A="old"\n', mode: 0o600 };
    expect(fileDiff(want('A="new"\n', 0o600), now, true)).toContain('+A="new"');
    expect(fileDiff(want('A="new"\n', 0o644), { ...now, mode: 0o644 }, false)).toContain('+A="new"');
  });
  it('has nothing to show for a new or an unchanged file', () => {
    expect(fileDiff(want('A=1\n', 0o644), { kind: 'missing' }, false)).toBeUndefined();
    expect(fileDiff(want('A=1\n', 0o644), { kind: 'file', content: 'A=1\n', mode: 0o600 }, false)).toBeUndefined();
  });
});

describe('buildMemoryProblem (step 4 before a build on the host)', () => {
  it("blocks a t3.micro's memory, passes a t3.small's (a little under 2 GiB as MemTotal) or enough swap", () => {
    expect(buildMemoryProblem({ memKiB: 980_000, swapKiB: 0 })).toMatch(/957 MiB .* OOM-killed below 1800 MiB/);
    expect(buildMemoryProblem({ memKiB: 1_940_000, swapKiB: 0 })).toBeUndefined();
    expect(buildMemoryProblem({ memKiB: 980_000, swapKiB: 1_048_576 })).toBeUndefined();
    expect(buildMemoryProblem(undefined)).toBeUndefined(); // a host without /proc/meminfo is not refused
  });
});
