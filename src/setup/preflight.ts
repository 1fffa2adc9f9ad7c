import { spawnSync } from 'node:child_process';
import { UsageError } from '../errors.js';
import type { SetupAws } from '../aws/setup-api.js';
import type { Stack } from '../config/stack.js';
import { blocked, done, reportStep, type Step } from './step.js';

/**
 * The caller check, once per run (upstream repeated it in every helper): the account must be
 * ACCOUNT_ID, and the principal must match the allow-list (glob patterns over the caller ARN;
 * default: any principal of the account).
 */
export async function checkCaller(
  aws: SetupAws,
  stack: Stack,
  allowList: readonly string[],
): Promise<{ account: string; arn: string }> {
  const caller = await aws.callerIdentity();
  if (caller.account !== stack.accountId) {
    throw new UsageError({
      code: 'WRONG_ACCOUNT',
      message:
        `the credentials are for account ${caller.account} (${caller.arn}), but ` +
        `${stack.operatorEnvFile} says ACCOUNT_ID=${stack.accountId}`,
      hint: 'switch profile (--profile / AWS_PROFILE) or fix ACCOUNT_ID; nothing was changed',
    });
  }
  if (allowList.length > 0 && !allowList.some((p) => globMatch(p, caller.arn))) {
    throw new UsageError({
      code: 'CALLER_NOT_ALLOWED',
      message: `${caller.arn} is not in the principal allow-list (${allowList.join(', ')})`,
      hint: 'use an allowed principal, or change SETUP_ALLOWED_PRINCIPALS',
    });
  }
  return caller;
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

/** Upstream needed aws, jq, curl, openssl, awk and sed; agentkeys needs none of them. */
const toolsStep = reportStep({
  num: 1,
  id: 'tools',
  title: 'Check local tools',
  async report() {
    const ssh = spawnSync('ssh', ['-V'], { stdio: 'ignore' }).status === 0;
    return done(
      `node ${process.version}; no AWS CLI, jq or openssl needed` +
        (ssh ? '' : ' (ssh not found: agentkeys ssh will need it)'),
    );
  },
});

/** The env files were parsed and validated before any step ran (every problem listed, exit 2). */
const envStep = reportStep({
  num: 2,
  id: 'env',
  title: 'Load and validate the env files',
  report: async (ctx) =>
    done(
      `${ctx.stack.name} stack: ${ctx.stack.operatorEnvFile} + ${ctx.stack.brokerEnvFile}, region ${ctx.stack.region}`,
    ),
});

/** The caller was checked once before the steps (account == ACCOUNT_ID, allow-list); this adds the zone. */
const callerStep = reportStep({
  num: 3,
  id: 'caller',
  title: 'Check the caller and the hosted zone',
  async report(ctx) {
    const { stack } = ctx;
    const zone = await ctx.aws.getHostedZone(stack.parentZoneId);
    if (!zone)
      return blocked(
        `hosted zone ${stack.parentZoneId} does not exist in account ${stack.accountId}`,
        'set PARENT_ZONE_ID (aws route53 list-hosted-zones-by-name)',
      );
    if (zone.name.replace(/\.$/, '') !== stack.zone)
      return blocked(
        `hosted zone ${stack.parentZoneId} is ${zone.name}, not ${stack.zone}`,
        'PARENT_ZONE_ID and ZONE must name the same zone',
      );
    return done(`${ctx.state.caller?.arn ?? 'caller'} in ${stack.accountId}; zone ${stack.zone}`);
  },
});

/** Steps 1–3 of upstream's numbering: read-only, nothing to change or tear down. */
export const PREFLIGHT_STEPS: readonly Step[] = [toolsStep, envStep, callerStep];
