// The only place that styles output. Core code returns data; this turns it into lines.
import chalk from 'chalk';

// no-color.org: a non-empty NO_COLOR turns colour off (chalk itself reads --no-color and FORCE_COLOR).
if (process.env.NO_COLOR) chalk.level = 0;
import { isAgentkeysError, InternalError } from '../../src/errors.js';

export interface OutputOptions {
  json: boolean;
  debug: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Text that came from outside (a log row, an agent's actor id) shown in a terminal: control
 * characters (ESC, CR, C1) written as \u escapes, so a row cannot move the cursor or recolour
 * the lines around it.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export const style = {
  ok: (s: string) => chalk.green(s),
  bad: (s: string) => chalk.red(s),
  warn: (s: string) => chalk.yellow(s),
  dim: (s: string) => chalk.dim(s),
  bold: (s: string) => chalk.bold(s),
};

/** `✖ message`, then the details, `→ hint`, and the cause; stacks only with --debug. */
export function printError(err: unknown, out: OutputOptions): void {
  if (out.json) printJson({ ok: false, error: errorRecord(err) });
  const lines: string[] = [];
  if (isAgentkeysError(err)) {
    lines.push(chalk.red(`✖ ${err.message}`) + chalk.dim(` [${err.code}]`));
    for (const d of err.details) lines.push(`  - ${d}`);
    if (err.hint) lines.push(chalk.cyan(`→ ${err.hint}`));
    if (err instanceof InternalError)
      lines.push(chalk.dim('  this is a bug in agentkeys; please report it with the output of --debug'));
    const cause = err.cause as Error | undefined;
    if (cause?.message && out.debug) lines.push(chalk.dim(`  cause: ${cause.message}`));
  } else {
    lines.push(chalk.red(`✖ unexpected error: ${(err as Error)?.message ?? String(err)}`) + chalk.dim(' [INTERNAL]'));
    lines.push(chalk.dim('  this is a bug in agentkeys; please report it with the output of --debug'));
  }
  if (out.debug && err instanceof Error && err.stack) lines.push(chalk.dim(err.stack));
  process.stderr.write(`${lines.join('\n')}\n`);
}

function errorRecord(err: unknown): Record<string, unknown> {
  if (isAgentkeysError(err)) {
    const rec: Record<string, unknown> = { code: err.code, message: err.message };
    if (err.hint) rec.hint = err.hint;
    if (err.details.length > 0) rec.details = err.details;
    return rec;
  }
  return { code: 'INTERNAL', message: (err as Error)?.message ?? String(err) };
}
