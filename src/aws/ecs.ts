import { ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import type { AwsServiceContext } from './service.js';
import { observeCalls } from './call.js';

/** The ECS call agentkeys makes: restart a service's tasks so they read their secrets again. */
export interface EcsApi {
  /** UpdateService --force-new-deployment; the id of the deployment it started. */
  forceNewDeployment(cluster: string, service: string): Promise<string | undefined>;
}

export function createEcsApi(ctx: AwsServiceContext): EcsApi {
  const caller = ctx.caller;
  const ecs = observeCalls(new ECSClient(ctx.config), 'ecs', ctx.onCall);
  return {
    forceNewDeployment: (cluster, service) =>
      caller.call('ecs:UpdateService', `${cluster}/${service}`, async () => {
        const out = await ecs.send(new UpdateServiceCommand({ cluster, service, forceNewDeployment: true }));
        const primary = out.service?.deployments?.find((d) => d.status === 'PRIMARY');
        return primary?.id;
      }),
  };
}
