import {
  EC2Client,
  AllocateAddressCommand,
  AssociateAddressCommand,
  AssociateIamInstanceProfileCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DisassociateIamInstanceProfileCommand,
  ReplaceIamInstanceProfileAssociationCommand,
  CreateTagsCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeSecurityGroupsCommand,
  DisassociateAddressCommand,
  ReleaseAddressCommand,
} from '@aws-sdk/client-ec2';
import type { AwsServiceContext } from './service.js';
import { observeCalls } from './call.js';

export interface Address {
  allocationId: string;
  publicIp: string;
  instanceId?: string;
  associationId?: string;
  tags: Record<string, string>;
}

/** One ingress rule of a security group: protocol ('-1' is all), ports, and its IPv4/IPv6 sources. */
export interface IngressRule {
  protocol: string;
  fromPort?: number;
  toPort?: number;
  sources: string[];
}

/** The EC2 calls agentkeys makes, and nothing else. */
export interface Ec2Api {
  /** What preflight reads of the broker instance: its type and its security groups. */
  describeInstanceNetwork(id: string): Promise<{ instanceType?: string; securityGroupIds: string[] } | undefined>;
  /** Memory of an instance type in MiB, as EC2 lists it. */
  instanceTypeMemoryMiB(type: string): Promise<number | undefined>;
  /** Every ingress rule of these security groups. */
  securityGroupIngress(ids: readonly string[]): Promise<IngressRule[]>;
  describeInstance(id: string): Promise<{ publicIp?: string; state?: string } | undefined>;
  addressesByTag(name: string): Promise<Address[]>;
  addressByIp(ip: string): Promise<Address | undefined>;
  allocateAddress(tagName: string): Promise<Address>;
  tagResource(id: string, tags: Record<string, string>): Promise<void>;
  associateAddress(allocationId: string, instanceId: string): Promise<void>;
  disassociateAddress(associationId: string): Promise<void>;
  releaseAddress(allocationId: string): Promise<void>;
  /** The instance profile associated with an instance (associating or associated), if any. */
  describeProfileAssociation(instanceId: string): Promise<ProfileAssociation | undefined>;
  associateInstanceProfile(instanceId: string, profile: string): Promise<void>;
  replaceInstanceProfile(associationId: string, profile: string): Promise<void>;
  disassociateInstanceProfile(associationId: string): Promise<void>;
}

export interface ProfileAssociation {
  associationId: string;
  profileArn: string;
}

export function createEc2Api(ctx: AwsServiceContext): Ec2Api {
  const caller = ctx.caller;
  const ec2 = observeCalls(new EC2Client(ctx.config), 'ec2', ctx.onCall);
  /** One instance as DescribeInstances has it; undefined when there is none by that id. */
  const instance = (id: string) =>
    caller.maybe('ec2:DescribeInstances', id, async () => {
      const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      return out.Reservations?.[0]?.Instances?.[0];
    });
  return {
    describeInstanceNetwork: async (id) => {
      const inst = await instance(id);
      if (!inst) return undefined;
      return {
        ...(inst.InstanceType ? { instanceType: inst.InstanceType } : {}),
        securityGroupIds: (inst.SecurityGroups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
      };
    },
    instanceTypeMemoryMiB: (type) =>
      caller.call('ec2:DescribeInstanceTypes', type, async () => {
        const out = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: [type as never] }));
        return out.InstanceTypes?.[0]?.MemoryInfo?.SizeInMiB;
      }),
    securityGroupIngress: (ids) =>
      caller.call('ec2:DescribeSecurityGroups', ids.join(','), async () => {
        if (ids.length === 0) return [];
        const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [...ids] }));
        return (out.SecurityGroups ?? []).flatMap((g) =>
          (g.IpPermissions ?? []).map((p) => ({
            protocol: p.IpProtocol ?? '-1',
            ...(p.FromPort !== undefined ? { fromPort: p.FromPort } : {}),
            ...(p.ToPort !== undefined ? { toPort: p.ToPort } : {}),
            sources: [
              ...(p.IpRanges ?? []).flatMap((r) => (r.CidrIp ? [r.CidrIp] : [])),
              ...(p.Ipv6Ranges ?? []).flatMap((r) => (r.CidrIpv6 ? [r.CidrIpv6] : [])),
              ...(p.UserIdGroupPairs ?? []).flatMap((r) => (r.GroupId ? [r.GroupId] : [])),
              ...(p.PrefixListIds ?? []).flatMap((r) => (r.PrefixListId ? [r.PrefixListId] : [])),
            ],
          })),
        );
      }),
    describeInstance: async (id) => {
      const inst = await instance(id);
      if (!inst) return undefined;
      return {
        ...(inst.PublicIpAddress ? { publicIp: inst.PublicIpAddress } : {}),
        ...(inst.State?.Name ? { state: inst.State.Name } : {}),
      };
    },
    addressesByTag: (name) =>
      caller.call('ec2:DescribeAddresses', name, async () =>
        (
          (await ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'tag:Name', Values: [name] }] })))
            .Addresses ?? []
        ).map(toAddress),
      ),
    // A filter, not PublicIps=[ip]: AWS throws for PublicIps naming an auto-assigned (non-EIP) address.
    addressByIp: (ip) =>
      caller.call(
        'ec2:DescribeAddresses',
        ip,
        async () =>
          (
            (await ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'public-ip', Values: [ip] }] })))
              .Addresses ?? []
          ).map(toAddress)[0],
      ),
    allocateAddress: (tagName) =>
      caller.call('ec2:AllocateAddress', tagName, async () => {
        const out = await ec2.send(
          new AllocateAddressCommand({
            Domain: 'vpc',
            TagSpecifications: [
              {
                ResourceType: 'elastic-ip',
                Tags: [
                  { Key: 'Name', Value: tagName },
                  { Key: 'agentkeys:managed', Value: 'true' },
                ],
              },
            ],
          }),
        );
        return { allocationId: out.AllocationId!, publicIp: out.PublicIp!, tags: { Name: tagName } };
      }),
    tagResource: (id, tags) =>
      caller.call(
        'ec2:CreateTags',
        id,
        async () =>
          void (await ec2.send(
            new CreateTagsCommand({
              Resources: [id],
              Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
            }),
          )),
      ),
    associateAddress: (allocationId, instanceId) =>
      caller.call(
        'ec2:AssociateAddress',
        allocationId,
        async () =>
          void (await ec2.send(
            new AssociateAddressCommand({
              AllocationId: allocationId,
              InstanceId: instanceId,
              AllowReassociation: false,
            }),
          )),
      ),
    disassociateAddress: (associationId) =>
      caller.gone(
        'ec2:DisassociateAddress',
        associationId,
        async () => void (await ec2.send(new DisassociateAddressCommand({ AssociationId: associationId }))),
      ),
    releaseAddress: (allocationId) =>
      caller.gone(
        'ec2:ReleaseAddress',
        allocationId,
        async () => void (await ec2.send(new ReleaseAddressCommand({ AllocationId: allocationId }))),
      ),
    describeProfileAssociation: (instanceId) =>
      caller.call('ec2:DescribeIamInstanceProfileAssociations', instanceId, async () => {
        const out = await ec2.send(
          new DescribeIamInstanceProfileAssociationsCommand({
            Filters: [
              { Name: 'instance-id', Values: [instanceId] },
              { Name: 'state', Values: ['associating', 'associated'] },
            ],
          }),
        );
        const a = out.IamInstanceProfileAssociations?.[0];
        return a ? { associationId: a.AssociationId!, profileArn: a.IamInstanceProfile?.Arn ?? '' } : undefined;
      }),
    associateInstanceProfile: (instanceId, profile) =>
      caller.eventually(
        'ec2:AssociateIamInstanceProfile',
        instanceId,
        async () =>
          void (await ec2.send(
            new AssociateIamInstanceProfileCommand({ InstanceId: instanceId, IamInstanceProfile: { Name: profile } }),
          )),
      ),
    replaceInstanceProfile: (associationId, profile) =>
      caller.eventually(
        'ec2:ReplaceIamInstanceProfileAssociation',
        associationId,
        async () =>
          void (await ec2.send(
            new ReplaceIamInstanceProfileAssociationCommand({
              AssociationId: associationId,
              IamInstanceProfile: { Name: profile },
            }),
          )),
      ),
    disassociateInstanceProfile: (associationId) =>
      caller.gone(
        'ec2:DisassociateIamInstanceProfile',
        associationId,
        async () => void (await ec2.send(new DisassociateIamInstanceProfileCommand({ AssociationId: associationId }))),
      ),
  };
}
function toAddress(a: {
  AllocationId?: string | undefined;
  PublicIp?: string | undefined;
  InstanceId?: string | undefined;
  AssociationId?: string | undefined;
  Tags?: { Key?: string | undefined; Value?: string | undefined }[] | undefined;
}): Address {
  return {
    allocationId: a.AllocationId!,
    publicIp: a.PublicIp!,
    // moto returns "" where AWS omits the key (a moto 5.2.1 deviation).
    ...(a.InstanceId ? { instanceId: a.InstanceId } : {}),
    ...(a.AssociationId ? { associationId: a.AssociationId } : {}),
    tags: Object.fromEntries((a.Tags ?? []).map((t) => [t.Key!, t.Value ?? ''])),
  };
}
