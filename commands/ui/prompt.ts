// The only home of @inquirer/prompts. Without a TTY (or with --json) an unanswered question means no.
import { AbortError } from '../../src/errors.js';
import type { CommandContext } from '../context.js';

/** --yes answers yes; otherwise ask on a terminal; with no terminal the answer is no. */
export async function askYesNo(question: string, yes: boolean, json: boolean): Promise<boolean> {
  if (yes) return true;
  if (json || !process.stdin.isTTY || !process.stdout.isTTY) return false;
  const { confirm } = await import('@inquirer/prompts');
  return confirm({ message: question, default: false });
}

/** Like askYesNo, but a "no" aborts the command (exit 1) saying which flag answers yes. */
export async function confirm(ctx: CommandContext, question: string, flag: string, yes: boolean): Promise<void> {
  if (await askYesNo(question, yes, ctx.out.json)) return;
  const asked = !ctx.out.json && process.stdin.isTTY && process.stdout.isTTY;
  throw asked
    ? new AbortError({ code: 'DECLINED', message: 'declined; nothing was changed' })
    : new AbortError({
        code: 'CONFIRMATION_REQUIRED',
        message: `${question} (no terminal to ask on, so the answer is no)`,
        hint: `add ${flag} to confirm`,
      });
}

/** Asks for a value on a terminal; undefined without one (the caller then names the flag). */
export async function askText(question: string, json: boolean): Promise<string | undefined> {
  if (json || !process.stdin.isTTY || !process.stdout.isTTY) return undefined;
  const { input } = await import('@inquirer/prompts');
  const answer = (await input({ message: question })).trim();
  return answer === '' ? undefined : answer;
}
