// Calls only the sandbox makes, to seed an empty moto account with what an operator's account
// already has (a hosted zone, an instance). setup's steps never see them: they are not in SetupAws.
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { observeCalls } from './call.js';
import { createServiceContext, type AwsServiceOptions } from './service.js';

export interface SandboxAws {
  createHostedZone(name: string): Promise<string>;
  /** An instance from moto's default AMI. */
  runInstance(): Promise<string>;
}

export function createSandboxAws(opts: AwsServiceOptions): SandboxAws {
  const ctx = createServiceContext(opts);
  const caller = ctx.caller;
  const r53 = observeCalls(new Route53Client(ctx.config), 'route53', ctx.onCall);
  const ec2 = observeCalls(new EC2Client(ctx.config), 'ec2', ctx.onCall);
  return {
    createHostedZone: (name) =>
      caller.call('route53:CreateHostedZone', name, async () =>
        (
          await r53.send(new CreateHostedZoneCommand({ Name: name, CallerReference: `agentkeys-${Date.now()}` }))
        ).HostedZone!.Id!.replace('/hostedzone/', ''),
      ),
    runInstance: () =>
      caller.call(
        'ec2:RunInstances',
        undefined,
        async () =>
          (
            await ec2.send(
              new RunInstancesCommand({ ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1, InstanceType: 't3.small' }),
            )
          ).Instances![0]!.InstanceId!,
      ),
  };
}
