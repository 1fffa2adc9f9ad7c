import { setEnvValue } from '../../config/env-writeback.js';
import type { Address } from '../../aws/setup-api.js';
import type { TeardownAction } from '../resources.js';
import {
  blocked,
  change,
  done,
  pending,
  waiting,
  type Change,
  type SetupContext,
  type Step,
  type StepState,
  rerun,
} from '../step.js';

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
  if (tagged.length > 1)
    return {
      changes: [],
      state: blocked(
        `${tagged.length} Elastic IPs carry the tag ${stack.eipTag}: ${tagged.map((a) => a.publicIp).join(', ')}`,
        'release or re-tag all but one',
      ),
    };
  const instance = stack.instanceId ? await aws.describeInstance(stack.instanceId) : undefined;
  if (stack.instanceId && !instance)
    return {
      changes: [],
      state: blocked(
        `instance ${stack.instanceId} (INSTANCE_ID) does not exist in ${stack.region}`,
        `fix INSTANCE_ID in ${stack.brokerEnvFile}`,
      ),
    };
  let address: Address | undefined = tagged[0];
  if (!address && instance?.publicIp) address = await aws.addressByIp(instance.publicIp);
  if (!address && ctx.state.eip) {
    address = await aws.addressByIp(ctx.state.eip);
    if (!address)
      return {
        changes: [],
        state: blocked(
          `EIP=${ctx.state.eip} in ${stack.brokerEnvFile} is not an Elastic IP of account ${stack.accountId}`,
          `remove the EIP= value to allocate one, or fix it`,
        ),
      };
  }
  if (stack.instanceId && address?.instanceId && address.instanceId !== stack.instanceId) {
    return {
      changes: [],
      state: blocked(
        `Elastic IP ${address.publicIp} is associated with ${address.instanceId}, not ${stack.instanceId}`,
        'disassociate it first; agentkeys never steals an address',
      ),
    };
  }
  return { changes: eipChanges(ctx, address), ...(address ? { address } : {}) };
}

// The changes share the address: the one found, or the one the first change allocates.
function eipChanges(ctx: SetupContext, found: Address | undefined): Change[] {
  const { stack, aws } = ctx;
  let address = found;
  const current = () => address!;
  const changes: Change[] = [];
  if (!found)
    changes.push(
      change('create', `Elastic IP ${stack.eipTag}`, async () => (address = await aws.allocateAddress(stack.eipTag))),
    );
  else if (found.tags.Name !== stack.eipTag)
    changes.push(
      change(
        'tag',
        `Elastic IP ${found.publicIp}`,
        () => aws.tagResource(found.allocationId, { Name: stack.eipTag }),
        `Name=${stack.eipTag}`,
      ),
    );
  const instanceId = stack.instanceId;
  if (instanceId && found?.instanceId !== instanceId)
    changes.push(
      change('associate', `Elastic IP → ${instanceId}`, () => aws.associateAddress(current().allocationId, instanceId)),
    );
  if (!found || ctx.state.eip !== found.publicIp) {
    changes.push(
      change('write', `EIP in ${stack.brokerEnvFile}`, async () => {
        await setEnvValue(stack.brokerEnvFile, 'EIP', current().publicIp);
        ctx.state.eip = current().publicIp;
      }),
    );
  }
  return changes;
}

export const eipStep: Step = {
  num: 4,
  id: 'eip',
  title: 'Allocate or adopt the broker Elastic IP',
  async check(ctx) {
    const plan = await planEip(ctx);
    if (plan.state) return plan.state;
    if (plan.changes.length > 0) return pending(plan.changes);
    if (!ctx.stack.instanceId)
      return waiting(
        `Elastic IP ${plan.address!.publicIp} is ready but INSTANCE_ID is not set`,
        `paste INSTANCE_ID= into ${ctx.stack.brokerEnvFile}, then: ${rerun(ctx, '4')}`,
      );
    return done(`${plan.address!.publicIp} (${plan.address!.allocationId}) on ${ctx.stack.instanceId}`);
  },
  /** Released (the instance is never terminated), and its value cleared from the broker env file. */
  async teardown(ctx) {
    const { stack, aws } = ctx;
    const actions: TeardownAction[] = (await aws.addressesByTag(stack.eipTag)).map((address) => ({
      resource: `Elastic IP ${address.publicIp}`,
      action: 'delete',
      apply: async () => {
        if (address.associationId) await aws.disassociateAddress(address.associationId);
        await aws.releaseAddress(address.allocationId);
      },
    }));
    if (stack.eip)
      actions.push({
        resource: `EIP in ${stack.brokerEnvFile}`,
        action: 'delete',
        apply: async () => void (await setEnvValue(stack.brokerEnvFile, 'EIP', '')),
      });
    return actions;
  },
  async verify(ctx) {
    if (!ctx.stack.instanceId) return undefined;
    const instance = await ctx.aws.describeInstance(ctx.stack.instanceId);
    return instance?.publicIp === ctx.state.eip
      ? undefined
      : `${ctx.stack.instanceId} answers on ${instance?.publicIp ?? 'no public IP'}, not ${ctx.state.eip}`;
  },
};
