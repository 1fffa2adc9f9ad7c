import { UsageError } from '../errors.js';
import type { SetupAws } from '../aws/setup-api.js';
import type { Stack } from './stack.js';

/**
 * The caller check, once per run (upstream repeated it in every helper): the account must be
 * ACCOUNT_ID, and the principal must match the allow-list (glob patterns over the caller ARN;
 * default: any principal of the account).
 */
export async function checkCaller(aws: SetupAws, stack: Stack, allowList: readonly string[]): Promise<{ account: string; arn: string }> {
  const caller = await aws.callerIdentity();
  if (caller.account !== stack.accountId) {
    throw new UsageError({ code: 'WRONG_ACCOUNT', message: `the credentials are for account ${caller.account} (${caller.arn}), but ${stack.operatorEnvFile} says ACCOUNT_ID=${stack.accountId}`, hint: 'switch profile (--profile / AWS_PROFILE) or fix ACCOUNT_ID; nothing was changed' });
  }
  if (allowList.length > 0 && !allowList.some((p) => globMatch(p, caller.arn))) {
    throw new UsageError({ code: 'CALLER_NOT_ALLOWED', message: `${caller.arn} is not in the principal allow-list (${allowList.join(', ')})`, hint: 'use an allowed principal, or change SETUP_ALLOWED_PRINCIPALS' });
  }
  return caller;
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}
