// Calls only the sandbox makes, to seed an empty moto account with what an operator's account
// already has (a hosted zone, an instance). setup's steps never see them: they are not in SetupAws.
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { observeCalls } from './call.js';
import { createServiceContext, type AwsServiceOptions } from './service.js';

export interface SandboxAws {
  createHostedZone(name: string): Promise<string>;
  /**
   * An instance from moto's default AMI, as the broker needs one: t3.small (t3.micro by
   * request, for preflight's tests) in a security group open on 22, 80 and 443 from 0.0.0.0/0
   * (`ports` to open fewer).
   */
  runInstance(opts?: { instanceType?: string; ports?: number[] }): Promise<string>;
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
    runInstance: (opts = {}) =>
      caller.call('ec2:RunInstances', undefined, async () => {
        const group = (
          await ec2.send(
            new CreateSecurityGroupCommand({
              GroupName: `agentkeys-broker-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
              Description: 'the broker host: SSH, ACME HTTP-01, TLS',
            }),
          )
        ).GroupId!;
        const ports = opts.ports ?? [22, 80, 443];
        if (ports.length > 0)
          await ec2.send(
            new AuthorizeSecurityGroupIngressCommand({
              GroupId: group,
              IpPermissions: ports.map((p) => ({
                IpProtocol: 'tcp',
                FromPort: p,
                ToPort: p,
                IpRanges: [{ CidrIp: '0.0.0.0/0' }],
              })),
            }),
          );
        const run = new RunInstancesCommand({
          ImageId: 'ami-12c6146b',
          MinCount: 1,
          MaxCount: 1,
          InstanceType: (opts.instanceType ?? 't3.small') as never,
          SecurityGroupIds: [group],
        });
        return (await ec2.send(run)).Instances![0]!.InstanceId!;
      }),
  };
}
