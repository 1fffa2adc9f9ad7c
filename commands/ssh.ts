import { UsageError, type ExitCode } from '../src/errors.js';
import { openBrokerSsh, type BrokerSshOptions } from '../src/ssh/broker-ssh.js';
import { runInherited } from '../src/sys/exec.js';
import { createContext, type GlobalOptions } from './context.js';
import { style } from './ui/format.js';
import { messageOf } from '../src/sys/operator-file.js';

export interface SshOptions extends GlobalOptions, Omit<BrokerSshOptions, 'stack'> {
  test?: boolean;
}

export async function runSsh(options: SshOptions, positional: unknown[]): Promise<ExitCode> {
  const cmd = await createContext({ ...options, envFile: undefined, settings: undefined });
  const words = (positional[0] as string[] | undefined) ?? [];
  // commander folds the words after `--` into the same list; argv says where the command starts.
  const dash = process.argv.indexOf('--', 2);
  const { stack, command } = stackAndCommand(
    words,
    dash === -1 ? words.length : words.length - (process.argv.length - dash - 1),
    options.test === true,
  );
  const conn = await openBrokerSsh(cmd.config, { ...options, stack });
  const reuse = conn.reused ? ', reusing the open connection' : '';
  process.stderr.write(style.dim(`→ ssh ${conn.plan.user}@${conn.plan.host} (${conn.plan.reason}${reuse})\n`));
  try {
    // `--` keeps the remote command's words from being read as ssh options.
    const code = await runInherited(conn.binary, [...conn.args, ...(command.length > 0 ? ['--', ...command] : [])]);
    return (code > 255 ? 1 : code) as ExitCode;
  } catch (err) {
    throw new UsageError({
      code: 'SSH_NOT_FOUND',
      message: `cannot run ${conn.binary}: ${messageOf(err)}`,
      hint: 'install an OpenSSH client (apt-get install openssh-client)',
      cause: err,
    });
  } finally {
    conn.close();
  }
}

/**
 * `[prod|test] [-- CMD…]`: the stack word comes before `--`; anything else there is a typo, not
 * a command (`ssh staging` must not open prod). No word means prod, said on stderr.
 */
function stackAndCommand(
  words: string[],
  commandAt: number,
  testFlag: boolean,
): { stack: 'prod' | 'test'; command: string[] } {
  const before = words.slice(0, Math.max(0, commandAt));
  const after = words.slice(Math.max(0, commandAt));
  if (testFlag) {
    if (before.length > 0 && before[0] !== 'test')
      throw new UsageError({
        code: 'FLAG_CONFLICT',
        message: `--test and the stack word "${before[0]}" name different stacks`,
        hint: 'agentkeys ssh test (or --test alone)',
      });
    return { stack: 'test', command: after };
  }
  if (before.length > 1 || (before.length === 1 && before[0] !== 'prod' && before[0] !== 'test')) {
    throw new UsageError({
      code: 'STACK_UNKNOWN',
      message: `"${before.join(' ')}" is not a stack: agentkeys ssh takes prod or test`,
      hint: 'agentkeys ssh test -- uptime (the remote command goes after --)',
    });
  }
  if (before.length === 0)
    process.stderr.write(style.dim('→ no stack given: using prod (agentkeys ssh test for the test stack)\n'));
  return { stack: (before[0] as 'prod' | 'test' | undefined) ?? 'prod', command: after };
}
