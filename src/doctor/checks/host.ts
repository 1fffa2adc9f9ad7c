import { stat } from 'node:fs/promises';
import { readProfiles } from '../../setup/credentials-file.js';
import { fail, ok, setupFix, stackOf, type DoctorCheck } from '../check.js';

/**
 * Whether `agentkeys ssh` can reach the broker: by EC2 Instance Connect (the ssh user, its policy
 * and its key in setup's credentials file, a running instance) or by the .pem fallback (--pem),
 * with the reason for each path that is not ready.
 */
export function sshCheck(pem: string | undefined): DoctorCheck {
  return {
    id: 'ssh.ready',
    group: 'ssh',
    title: 'The broker host is reachable by agentkeys ssh (Instance Connect or the .pem fallback)',
    needs: ['aws.account'],
    async run(ctx) {
      const setup = stackOf(ctx);
      const { stack, aws } = setup;
      if (!stack.instanceId)
        return fail(
          `no INSTANCE_ID in ${stack.brokerEnvFile}`,
          `set INSTANCE_ID=i-… there, then: ${setupFix(ctx, 'ssh-user')}`,
        );
      const instance = await aws.describeInstance(stack.instanceId);
      if (!instance) return fail(`${stack.instanceId} does not exist in ${stack.region}`, `fix INSTANCE_ID`);
      if (instance.state !== 'running')
        return fail(
          `${stack.instanceId} is ${instance.state}`,
          `aws ec2 start-instances --instance-ids ${stack.instanceId}`,
        );
      const ic = await instanceConnectReason(setup);
      const fallback = await pemReason(pem);
      const how = `agentkeys ssh ${stack.name}`;
      if (!ic) return ok(`Instance Connect ready as agentkey (${how})${fallback ? '' : '; .pem fallback ready too'}`);
      if (!fallback) return ok(`.pem fallback ready (${how} --fallback --pem ${pem}); Instance Connect: ${ic}`);
      return fail(`Instance Connect: ${ic}; fallback: ${fallback}`, setupFix(ctx, 'ssh-user'));
    },
  };
}

async function instanceConnectReason(setup: ReturnType<typeof stackOf>): Promise<string | undefined> {
  const { stack, aws } = setup;
  if (!(await aws.getUser(stack.sshUser))) return `user ${stack.sshUser} does not exist`;
  if (!(await aws.getUserPolicy(stack.sshUser, `${stack.sshUser}-ec2ic`)))
    return `${stack.sshUser} has no SendSSHPublicKey policy`;
  if (!(await readProfiles(setup.credentialsFile)).has(stack.sshUser))
    return `no [${stack.sshUser}] key in ${setup.credentialsFile}`;
  return undefined;
}

async function pemReason(pem: string | undefined): Promise<string | undefined> {
  if (!pem) return 'no --pem given';
  const s = await stat(pem).catch(() => undefined);
  if (!s) return `${pem} does not exist`;
  if ((s.mode & 0o077) !== 0) return `${pem} is mode ${(s.mode & 0o777).toString(8)}; ssh wants 600 (chmod 600 ${pem})`;
  return undefined;
}
