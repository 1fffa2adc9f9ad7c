// The only home of @inquirer/prompts. Without a TTY an unanswered confirmation means no.
import { AbortError } from '../../src/errors.js';
import type { CommandContext } from '../context.js';

export async function confirm(ctx: CommandContext, question: string, flag: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stdout.isTTY || ctx.out.json) {
    throw new AbortError({ code: 'CONFIRMATION_REQUIRED', message: `${question} (no terminal to ask on, so the answer is no)`, hint: `add ${flag} to confirm` });
  }
  const { confirm: ask } = await import('@inquirer/prompts');
  if (!(await ask({ message: question, default: false }))) {
    throw new AbortError({ code: 'DECLINED', message: 'declined; nothing was changed' });
  }
}
