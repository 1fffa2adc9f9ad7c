import { UsageError } from '../errors.js';
import { readOperatorText } from '../sys/operator-file.js';

/**
 * A safe reader for shell-style env files (the services' own). It understands exactly:
 *   KEY=value, export KEY=value, # comments, blank lines, '…' and "…" quoting,
 *   $VAR, ${VAR}, ${VAR#glob}, ${VAR##glob}, ${VAR%glob}, ${VAR%%glob}, ${VAR:-default}
 * and rejects everything else with ENV_FILE_INVALID and the line number. Nothing is ever executed:
 * `$(…)` and backticks are refused, not run. The file is untrusted input.
 */
export function parseEnvFile(
  text: string,
  source: string,
  base: Readonly<Record<string, string | undefined>> = {},
): Record<string, string> {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    try {
      const [key, value] = parseAssignment(line, (name) => values[name] ?? base[name]);
      values[key] = value;
    } catch (err) {
      if (!(err instanceof EnvSyntaxError)) throw err;
      problems.push(`line ${i + 1}: ${err.message}`);
    }
  });
  if (problems.length > 0) {
    throw new UsageError({
      code: 'ENV_FILE_INVALID',
      message: `${source}: ${problems.length} problem(s)`,
      details: problems,
      hint: 'env files hold KEY=value lines; shell commands are not run',
    });
  }
  return values;
}

/** `flag` is the option that names this file on the command at hand, for the hint. */
export async function readEnvFile(
  file: string,
  base: Readonly<Record<string, string | undefined>> = {},
  flag = '--settings',
): Promise<Record<string, string>> {
  const text = await readOperatorText(file, {
    code: 'ENV_FILE_NOT_FOUND',
    what: 'env file',
    // The flag that names this file on the command that read it, never a placeholder.
    hint: `create ${file} (documented examples: env/*.env), or name another with ${flag}`,
  });
  return parseEnvFile(text, file, base);
}

class EnvSyntaxError extends Error {}

const ASSIGNMENT = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

function parseAssignment(line: string, lookup: (name: string) => string | undefined): [string, string] {
  const m = ASSIGNMENT.exec(line);
  if (!m) throw new EnvSyntaxError(`expected KEY=value, got ${JSON.stringify(truncate(line))}`);
  return [m[1]!, parseValue(m[2]!, lookup)];
}

function parseValue(text: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) throw new EnvSyntaxError('unterminated single quote');
      out += text.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      const [value, next] = parseDoubleQuoted(text, i + 1, lookup);
      out += value;
      i = next;
    } else if (ch === '$') {
      const [value, next] = parseExpansion(text, i, lookup);
      out += value;
      i = next;
    } else if (ch === '#' && /\s$/.test(text.slice(0, i))) {
      break; // an inline comment after whitespace
    } else if (
      ch === '`' ||
      ch === ';' ||
      ch === '|' ||
      ch === '&' ||
      ch === '<' ||
      ch === '>' ||
      ch === '(' ||
      ch === ')'
    ) {
      throw new EnvSyntaxError(`shell syntax ${JSON.stringify(ch)} is not supported (nothing is executed)`);
    } else if (ch === ' ' || ch === '\t') {
      if (text.slice(i).trim() !== '' && !text.slice(i).trim().startsWith('#'))
        throw new EnvSyntaxError('unquoted whitespace in value; quote it');
      break;
    } else if (ch === '\\') {
      out += text[i + 1] ?? '';
      i += 2;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

function parseDoubleQuoted(
  text: string,
  start: number,
  lookup: (name: string) => string | undefined,
): [string, number] {
  let out = '';
  let i = start;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') return [out, i + 1];
    if (ch === '`') throw new EnvSyntaxError('backticks are not supported (nothing is executed)');
    if (ch === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) {
      out += text[i + 1];
      i += 2;
    } else if (ch === '$') {
      const [value, next] = parseExpansion(text, i, lookup);
      out += value;
      i = next;
    } else {
      out += ch;
      i++;
    }
  }
  throw new EnvSyntaxError('unterminated double quote');
}

const SIMPLE_VAR = /^\$([A-Za-z_][A-Za-z0-9_]*)/;
const BRACED = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(##|#|%%|%|:-)([^}]*))?\}/;

function parseExpansion(text: string, i: number, lookup: (name: string) => string | undefined): [string, number] {
  const rest = text.slice(i);
  if (rest.startsWith('$('))
    throw new EnvSyntaxError('command substitution $(…) is not supported (nothing is executed)');
  const braced = BRACED.exec(rest);
  if (braced) {
    const [whole, name, op, arg] = braced;
    return [expand(name!, op, arg ?? '', lookup), i + whole.length];
  }
  if (rest.startsWith('${')) throw new EnvSyntaxError(`unsupported expansion ${JSON.stringify(truncate(rest))}`);
  const simple = SIMPLE_VAR.exec(rest);
  if (simple) return [required(simple[1]!, lookup), i + simple[0].length];
  throw new EnvSyntaxError('a lone $ must be quoted with single quotes');
}

function expand(
  name: string,
  op: string | undefined,
  arg: string,
  lookup: (name: string) => string | undefined,
): string {
  if (op === ':-') return lookup(name) || arg;
  const value = required(name, lookup);
  if (op === undefined) return value;
  return removePattern(value, arg, op);
}

// Shell pattern removal: # shortest prefix, ## longest prefix, % shortest suffix, %% longest suffix.
function removePattern(value: string, glob: string, op: string): string {
  const whole = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    's',
  );
  const n = value.length;
  const cuts = op === '#' || op === '%%' ? range(0, n) : range(n, 0);
  for (const cut of cuts) {
    if (op.startsWith('#') && whole.test(value.slice(0, cut))) return value.slice(cut);
    if (op.startsWith('%') && whole.test(value.slice(cut))) return value.slice(0, cut);
  }
  return value;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; from <= to ? i <= to : i >= to; i += from <= to ? 1 : -1) out.push(i);
  return out;
}

function required(name: string, lookup: (name: string) => string | undefined): string {
  const v = lookup(name);
  if (v === undefined) throw new EnvSyntaxError(`\${${name}} is not defined above or in the environment`);
  return v;
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
