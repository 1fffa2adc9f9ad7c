import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { AwsServiceContext } from './service.js';
import { observeCalls } from './call.js';

/** The STS calls agentkeys makes, and nothing else. */
export interface StsApi {
  callerIdentity(): Promise<{ account: string; arn: string }>;
}

export function createStsApi(ctx: AwsServiceContext): StsApi {
  const caller = ctx.caller;
  const sts = observeCalls(new STSClient(ctx.config), 'sts', ctx.onCall);
  return {
    callerIdentity: () =>
      caller.call('sts:GetCallerIdentity', undefined, async () => {
        const out = await sts.send(new GetCallerIdentityCommand({}));
        return { account: out.Account!, arn: out.Arn! };
      }),
  };
}
