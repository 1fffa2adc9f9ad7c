// Files on the broker host, read and written through its shell: many read in one round trip
// (base64, so any byte survives the text channel), each written atomically (temp file in the same
// folder, sync, rename), and changes that a validator must accept (sshd -t, nginx -t) undone
// when it refuses them, so a bad file never reaches a reload.
import * as path from 'node:path';
import { AgentkeysError } from '../errors.js';
import { shQuote, type HostShell, type ShellResult } from '../ssh/connection.js';

export type HostFile =
  { kind: 'file'; content: string; mode: number } | { kind: 'link'; target: string } | { kind: 'missing' };

/** Reads each absolute path on the host: a file's content and mode, a symlink's target, or missing. */
export async function readHostFiles(shell: HostShell, paths: readonly string[]): Promise<Map<string, HostFile>> {
  return (await hostRead(shell, '', paths)).files;
}

const FILES_MARK = '==agentkeys-files==';

/**
 * One round trip for a step's check: the facts script's output lines, then the files. Each SSH
 * round trip costs a session on the host, so a check asks everything it needs at once.
 */
export async function hostRead(
  shell: HostShell,
  facts: string,
  paths: readonly string[],
): Promise<{ facts: string[]; files: Map<string, HostFile> }> {
  const script =
    `${facts ? `{\n${facts}\n}\n` : ''}echo '${FILES_MARK}'\n` +
    (paths.length === 0
      ? ''
      : `for p in ${paths.map(shQuote).join(' ')}; do\n` +
        `  if [ -L "$p" ]; then printf '== L %s\\n' "$(readlink "$p")";\n` +
        `  elif [ -f "$p" ]; then printf '== F %s\\n' "$(stat -c %a "$p")"; base64 -w0 "$p"; printf '\\n';\n` +
        `  else printf '== M\\n'; fi\n` +
        `done`);
  const lines = (await hostRun(shell, script, 'read the host')).stdout.split('\n');
  const mark = lines.indexOf(FILES_MARK);
  if (mark < 0) throw hostAnswerInvalid(shell, 'a read');
  const files = new Map<string, HostFile>();
  let at = mark + 1;
  for (const p of paths) {
    const head = /^== ([LFM])(?: (.*))?$/.exec(lines[at++] ?? '');
    if (!head) throw hostAnswerInvalid(shell, `reading ${p}`);
    if (head[1] === 'L') files.set(p, { kind: 'link', target: head[2] ?? '' });
    else if (head[1] === 'M') files.set(p, { kind: 'missing' });
    else
      files.set(p, {
        kind: 'file',
        mode: parseInt(head[2] ?? '', 8),
        content: Buffer.from(lines[at++] ?? '', 'base64').toString('utf8'),
      });
  }
  return { facts: lines.slice(0, mark), files };
}

/** The shell lines that write content to file atomically with mode (octal), creating its folder. */
export function writeFileScript(file: string, content: string, mode: number): string {
  const f = shQuote(file);
  const dir = shQuote(path.posix.dirname(file));
  return [
    `mkdir -p ${dir}`,
    `t=$(mktemp ${shQuote(`${path.posix.dirname(file)}/.agentkeys.`)}XXXXXX)`,
    `printf '%s' ${shQuote(Buffer.from(content).toString('base64'))} | base64 -d > "$t"`,
    `chmod ${mode.toString(8)} "$t"`,
    `sync "$t"`,
    `mv -f "$t" ${f}`,
  ].join('\n');
}

/** The shell lines that point link at target, replacing what is there (ln -sfn: atomic enough for a site link). */
export function linkScript(link: string, target: string): string {
  return `mkdir -p ${shQuote(path.posix.dirname(link))}\nln -sfn ${shQuote(target)} ${shQuote(link)}`;
}

/**
 * Runs change, then validate; when validate fails, the saved copies of touched come back (or the
 * new files go) and the validator's output is the error. Only then does after (a reload) run.
 */
export async function guardedChange(
  shell: HostShell,
  opts: { touched: readonly string[]; change: string; validate: string; after?: string; what: string },
): Promise<void> {
  const save = opts.touched
    .map((p, i) => `if [ -e ${shQuote(p)} ] || [ -L ${shQuote(p)} ]; then cp -P -p ${shQuote(p)} "$b/${i}"; fi`)
    .join('\n');
  const restore = opts.touched
    .map(
      (p, i) =>
        `if [ -e "$b/${i}" ] || [ -L "$b/${i}" ]; then mv -f "$b/${i}" ${shQuote(p)}; else rm -f ${shQuote(p)}; fi`,
    )
    .join('\n');
  const script = [
    'set -e',
    'b=$(mktemp -d)',
    save,
    opts.change,
    `if ! out=$( (${opts.validate}) 2>&1); then`,
    restore,
    'rm -rf "$b"',
    `printf '%s\\n' "$out" >&2`,
    'exit 3',
    'fi',
    'rm -rf "$b"',
    opts.after ?? ':',
  ].join('\n');
  const result = await shell.run(script);
  if (result.code === 3)
    throw new AgentkeysError({
      code: 'HOST_CONFIG_INVALID',
      message:
        `${opts.what} was refused by \`${opts.validate}\` on ${shell.describe} ` + `and undone: ${tail(result.stderr)}`,
      hint: 'the previous files are back in place; fix the template or the host and re-run',
    });
  if (result.code !== 0) throw hostCommandFailed(shell, opts.what, result);
}

/** The shell line that gives file to the services' user, when the host has it yet (step 1 makes it). */
export const ownByServiceUser = (file: string): string =>
  `if id agentkeys >/dev/null 2>&1; then chown agentkeys:agentkeys ${shQuote(file)}; fi`;

/** Runs a script that must succeed; a non-zero exit is HOST_COMMAND_FAILED with its last output line. */
export async function hostRun(shell: HostShell, script: string, what: string): Promise<ShellResult> {
  const result = await shell.run(script);
  if (result.code !== 0) throw hostCommandFailed(shell, what, result);
  return result;
}

export function hostCommandFailed(shell: HostShell, what: string, result: ShellResult): AgentkeysError {
  return new AgentkeysError({
    code: 'HOST_COMMAND_FAILED',
    message: `${what} failed on ${shell.describe} (exit ${result.code}): ${tail(result.stderr || result.stdout)}`,
    hint: 'run it again with --debug, or look on the host with agentkeys ssh',
  });
}

function hostAnswerInvalid(shell: HostShell, what: string): AgentkeysError {
  return new AgentkeysError({
    code: 'HOST_ANSWER_INVALID',
    message: `${shell.describe} answered ${what} with output agentkeys does not understand`,
    hint: 'the host needs a POSIX sh with base64, stat and readlink (GNU coreutils)',
  });
}

function tail(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines.slice(-3).join(' | ') || '(no output)';
}
