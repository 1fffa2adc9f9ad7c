import { setEnvValue } from '../../config/env-writeback.js';
import type { Address } from '../../aws/setup-api.js';
import { blocked, done, pending, waiting, type Change, type SetupContext, type Step, type StepState, rerun } from '../step.js';

interface EipPlan {
  state?: StepState;
  address?: Address;
  changes: Change[];
}

/**
 * One Elastic IP per stack, tagged Name=agentkeys-broker-eip[-test]: adopt the instance's EIP,
 * else the tagged one, else the env's EIP (ownership checked), else allocate. Associated by
 * AllocationId; several tagged EIPs are an error, not a coin toss (weakness 22).
 */
async function planEip(ctx: SetupContext): Promise<EipPlan> {
  const { stack, aws } = ctx;
  const tagged = await aws.addressesByTag(stack.eipTag);
  if (tagged.length > 1) return { changes: [], state: blocked(`${tagged.length} Elastic IPs carry the tag ${stack.eipTag}: ${tagged.map((a) => a.publicIp).join(', ')}`, 'release or re-tag all but one') };
  const instance = stack.instanceId ? await aws.describeInstance(stack.instanceId) : undefined;
  if (stack.instanceId && !instance) return { changes: [], state: blocked(`instance ${stack.instanceId} (INSTANCE_ID) does not exist in ${stack.region}`, `fix INSTANCE_ID in ${stack.brokerEnvFile}`) };
  let address: Address | undefined = tagged[0];
  if (!address && instance?.publicIp) address = await aws.addressByIp(instance.publicIp);
  if (!address && ctx.state.eip) {
    address = await aws.addressByIp(ctx.state.eip);
    if (!address) return { changes: [], state: blocked(`EIP=${ctx.state.eip} in ${stack.brokerEnvFile} is not an Elastic IP of account ${stack.accountId}`, `remove the EIP= value to allocate one, or fix it`) };
  }
  const changes: Change[] = [];
  if (!address) changes.push({ action: 'create', resource: `Elastic IP ${stack.eipTag}` });
  else if (address.tags.Name !== stack.eipTag) changes.push({ action: 'tag', resource: `Elastic IP ${address.publicIp}`, detail: `Name=${stack.eipTag}` });
  if (stack.instanceId && address?.instanceId && address.instanceId !== stack.instanceId) {
    return { changes: [], state: blocked(`Elastic IP ${address.publicIp} is associated with ${address.instanceId}, not ${stack.instanceId}`, 'disassociate it first; agentkeys never steals an address') };
  }
  if (stack.instanceId && address?.instanceId !== stack.instanceId) changes.push({ action: 'associate', resource: `Elastic IP → ${stack.instanceId}` });
  if (!address || ctx.state.eip !== address.publicIp) changes.push({ action: 'write', resource: `EIP in ${stack.brokerEnvFile}` });
  return { changes, ...(address ? { address } : {}) };
}

export const eipStep: Step = {
  num: 4,
  id: 'eip',
  title: 'Allocate or adopt the broker Elastic IP',
  async check(ctx) {
    const plan = await planEip(ctx);
    if (plan.state) return plan.state;
    if (plan.changes.length > 0) return pending(plan.changes);
    if (!ctx.stack.instanceId) return waiting(`Elastic IP ${plan.address!.publicIp} is ready but INSTANCE_ID is not set`, `paste INSTANCE_ID= into ${ctx.stack.brokerEnvFile}, then: ${rerun(ctx, '4')}`);
    return done(`${plan.address!.publicIp} (${plan.address!.allocationId}) on ${ctx.stack.instanceId}`);
  },
  async apply(ctx) {
    const plan = await planEip(ctx);
    let address = plan.address ?? (await ctx.aws.allocateAddress(ctx.stack.eipTag));
    if (address.tags.Name !== ctx.stack.eipTag) await ctx.aws.tagResource(address.allocationId, { Name: ctx.stack.eipTag });
    if (ctx.stack.instanceId && address.instanceId !== ctx.stack.instanceId) {
      await ctx.aws.associateAddress(address.allocationId, ctx.stack.instanceId);
      address = { ...address, instanceId: ctx.stack.instanceId };
    }
    await setEnvValue(ctx.stack.brokerEnvFile, 'EIP', address.publicIp);
    ctx.state.eip = address.publicIp;
  },
  async verify(ctx) {
    if (!ctx.stack.instanceId) return undefined;
    const instance = await ctx.aws.describeInstance(ctx.stack.instanceId);
    return instance?.publicIp === ctx.state.eip ? undefined : `${ctx.stack.instanceId} answers on ${instance?.publicIp ?? 'no public IP'}, not ${ctx.state.eip}`;
  },
};
