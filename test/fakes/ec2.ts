// Models: instances with a public IP; Elastic IPs with tags and one association each.
// Associating an EIP gives the instance that public IP, as EC2 does.
// Instance profile associations, one per instance.
// Leaves out: VPCs, network interfaces, instance states other than running.
import type { Address, Ec2Api } from '../../src/aws/ec2.js';
import { AgentkeysError } from '../../src/errors.js';

// Profile ARNs are resolved by name in this fake; the account is the fakes' own.
const profileArn = (name: string) => `arn:aws:iam::123456789012:instance-profile/${name}`;

export function fakeEc2() {
  const instances = new Map<string, { publicIp: string }>();
  const addresses = new Map<string, Address>();
  const profileOf = new Map<string, { associationId: string; profileArn: string }>();
  let seq = 0;
  const address = (id: string) => {
    const a = addresses.get(id);
    if (!a)
      throw new AgentkeysError({
        code: 'AWS_CALL_FAILED',
        message: `no address ${id} (fake InvalidAllocationID.NotFound)`,
      });
    return a;
  };
  const api: Ec2Api = {
    // Every fake instance is a t3.small in a group open on 22, 80 and 443, as the sandbox seeds it.
    describeInstanceNetwork: async (id) =>
      instances.has(id) ? { instanceType: 't3.small', securityGroupIds: ['sg-fake'] } : undefined,
    instanceTypeMemoryMiB: async (type) => ({ 't3.micro': 1024, 't3.small': 2048 })[type],
    securityGroupIngress: async (ids) =>
      ids.includes('sg-fake')
        ? [22, 80, 443].map((port) => ({ protocol: 'tcp', fromPort: port, toPort: port, sources: ['0.0.0.0/0'] }))
        : [],
    describeInstance: async (id) =>
      instances.has(id) ? { publicIp: instances.get(id)!.publicIp, state: 'running' } : undefined,
    addressesByTag: async (name) =>
      [...addresses.values()].filter((a) => a.tags.Name === name).map((a) => structuredClone(a)),
    addressByIp: async (ip) => structuredClone([...addresses.values()].find((a) => a.publicIp === ip)),
    allocateAddress: async (tagName) => {
      const n = ++seq;
      const a: Address = { allocationId: `eipalloc-fake${n}`, publicIp: `203.0.113.${n}`, tags: { Name: tagName } };
      addresses.set(a.allocationId, a);
      return structuredClone(a);
    },
    tagResource: async (id, tags) => void Object.assign(address(id).tags, tags),
    associateAddress: async (allocationId, instanceId) => {
      const a = address(allocationId);
      const instance = instances.get(instanceId);
      if (!instance) throw new AgentkeysError({ code: 'AWS_CALL_FAILED', message: `no instance ${instanceId} (fake)` });
      Object.assign(a, { instanceId, associationId: `eipassoc-${allocationId}` });
      instance.publicIp = a.publicIp;
    },
    disassociateAddress: async (associationId) => {
      const a = [...addresses.values()].find((x) => x.associationId === associationId);
      if (a) {
        delete a.instanceId;
        delete a.associationId;
      }
    },
    releaseAddress: async (allocationId) => void addresses.delete(allocationId),
    describeProfileAssociation: async (id) => structuredClone(profileOf.get(id)),
    associateInstanceProfile: async (id, profile) => {
      if (profileOf.has(id)) throw new AgentkeysError({ code: 'AWS_CALL_FAILED', message: 'fake IncorrectState' });
      profileOf.set(id, { associationId: `iip-assoc-${++seq}`, profileArn: profileArn(profile) });
    },
    replaceInstanceProfile: async (associationId, profile) => {
      for (const a of profileOf.values()) if (a.associationId === associationId) a.profileArn = profileArn(profile);
    },
    disassociateInstanceProfile: async (associationId) => {
      for (const [id, a] of profileOf) if (a.associationId === associationId) profileOf.delete(id);
    },
  };
  return {
    api,
    addInstance(): string {
      const id = `i-${(0xfa4e0000 + ++seq).toString(16)}`;
      instances.set(id, { publicIp: `198.51.100.${seq}` });
      return id;
    },
  };
}
