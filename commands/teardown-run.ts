// The teardown run shared by `agentkeys teardown` and `teardown --sandbox --keep DIR` (which
// points it at the kept sandbox's moto): not a command itself, so neither command imports the other.
import type { ExitCode } from '../src/errors.js';
import { awsAuthForStack, createSetupContext, type CallCounts } from '../src/context.js';
import type { SetupContext } from '../src/setup/step.js';
import { withStackLock } from './setup-run.js';
import { lockBucket } from '../src/setup/stack-lock.js';
import type { Stack } from '../src/config/stack.js';
import { checkCaller } from '../src/setup/preflight.js';
import { applyTeardown, planTeardown } from '../src/setup/teardown.js';
import { STEPS } from '../src/setup/steps/index.js';
import type { CommandContext, GlobalOptions, StackFileOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';
import { confirm } from './ui/prompt.js';
import { printStackBanner } from './step-command.js';

export interface TeardownCommandOptions extends GlobalOptions, StackFileOptions {
  forceUnlock?: boolean;
  test?: boolean;
  yes?: boolean;
  keepData?: boolean;
  envDir?: string;
  sandbox?: boolean;
  keep?: string;
}

export async function runTeardownFor(
  cmd: CommandContext,
  stack: Stack,
  options: TeardownCommandOptions,
): Promise<ExitCode> {
  printStackBanner(cmd, 'teardown', stack.name, `account ${stack.accountId}, ${stack.region}`);
  const { ctx, calls } = await createSetupContext({
    stack,
    auth: awsAuthForStack(cmd.config),
    dir: cmd.config.dir,
    showSecret: false,
    confirm: async () => options.yes === true,
    report: () => undefined,
  });
  const caller = await checkCaller(ctx.aws, stack, []);
  const how = { command: 'teardown', caller: caller.arn, forceUnlock: options.forceUnlock === true, plan: false };
  return withStackLock(cmd, stack, how, () => deleteStack(cmd, stack, ctx, calls, options));
}

async function deleteStack(
  cmd: CommandContext,
  stack: Stack,
  ctx: SetupContext,
  calls: CallCounts,
  options: TeardownCommandOptions,
): Promise<ExitCode> {
  const actions = await planTeardown(ctx, { keepData: options.keepData === true });
  if (actions.length === 0) {
    if (cmd.out.json) printJson({ ok: true, stack: stack.name, deleted: [], calls });
    else printLine(`${style.ok('✔')} nothing of the ${stack.name} stack is left to delete`);
    return 0;
  }
  if (!cmd.out.json)
    for (const a of actions)
      printLine(`  ${style.bad('delete')} ${a.resource}${a.detail ? style.dim(` (${a.detail})`) : ''}`);
  await confirm(
    cmd,
    `Delete these ${actions.length} resource(s) of the ${stack.name} stack?`,
    '--yes',
    options.yes === true,
  );
  const withData = actions.filter((a) => a.destroysData);
  if (withData.length > 0)
    await confirm(
      cmd,
      `This deletes objects in ${withData.map((a) => a.resource).join(', ')}. Delete the data?`,
      '--yes (or --keep-data to keep the buckets)',
      options.yes === true,
    );
  const deleted: string[] = [];
  await applyTeardown(actions, (a) => {
    deleted.push(a.resource);
    if (!cmd.out.json) printLine(`${style.ok('✔')} deleted ${a.resource}`);
  });
  if (cmd.out.json) printJson({ ok: true, stack: stack.name, deleted, calls });
  else {
    // What stays, and only that; what the operator may want to do about it is a separate line.
    printLine(
      style.dim(
        `kept: the KMS audit key (its events must stay verifiable), ${keptByDesign()}, the EC2 instance, ` +
          `the lock bucket ${lockBucket(stack.accountId)} (both stacks'), ` +
          `and the ${stack.name === 'test' ? 'prod' : 'test'} stack`,
      ),
    );
    printLine(
      style.dim(
        `→ remove any copies of the [${stack.daemonUser}] and [${stack.sshUser}] profiles from ~/.aws/credentials`,
      ),
    );
  }
  return 0;
}

const keptByDesign = () => STEPS.flatMap((s) => (s.keeps ? [s.keeps] : [])).join(', ');
