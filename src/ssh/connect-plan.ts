import * as path from 'node:path';
import { UsageError } from '../errors.js';

export interface SshPlanInput {
  stack: 'prod' | 'test';
  brokerEnvFile: string;
  instanceId?: string;
  eip?: string;
  fallback: boolean;
  pem?: string;
  osUser?: string;
  command: readonly string[];
  /** A per-user 0700 folder for the ControlMaster sockets (never /tmp). */
  controlDir: string;
  /** SSH_PORT in the broker env file, when sshd does not listen on 22. */
  port?: number;
}

export interface SshPlan {
  mode: 'instance-connect' | 'pem';
  host: string;
  user: string;
  instanceId?: string;
  /** ssh arguments; the identity file comes first at run time for Instance Connect. */
  args: string[];
  /** Why this route, for the line printed before connecting. */
  reason: string;
}

/**
 * How to reach the broker: EC2 Instance Connect as `agentkey` by default
 * (a one-minute key pushed with SendSSHPublicKey, no long-lived key on disk), or `--fallback`
 * with a .pem key as `ubuntu` (first login, before setup-broker-host created `agentkey`).
 * Connections are multiplexed for 10 minutes, so later commands skip the handshake.
 */
export function planSsh(input: SshPlanInput): SshPlan {
  const rerun = `set it in ${input.brokerEnvFile}`;
  if (!input.eip)
    throw new UsageError({
      code: 'SSH_EIP_MISSING',
      message: `no EIP for the ${input.stack} broker`,
      hint: `run agentkeys setup${input.stack === 'test' ? ' --test' : ''} --only-step 4, or ${rerun}`,
    });
  // agentkeys keeps its own known_hosts: an EIP is reused across instances and accounts, and a
  // script (broker setup) cannot answer the first-connection prompt. A changed key still fails.
  const mux = [
    '-o',
    'ControlMaster=auto',
    '-o',
    `ControlPath=${path.join(input.controlDir, '%C')}`,
    '-o',
    'ControlPersist=10m',
    '-o',
    `UserKnownHostsFile=${path.join(input.controlDir, 'known_hosts')}`,
    '-o',
    'StrictHostKeyChecking=accept-new',
    ...(input.port ? ['-p', String(input.port)] : []),
  ];
  // `--` keeps the remote command's words from being read as ssh options.
  const tail = input.command.length > 0 ? ['--', ...input.command] : [];
  if (input.fallback) {
    if (!input.pem)
      throw new UsageError({
        code: 'SSH_PEM_MISSING',
        message: '--fallback needs --pem FILE (the key pair the instance was launched with)',
        hint: 'agentkeys ssh test --fallback --pem ~/.ssh/broker.pem',
      });
    const user = input.osUser ?? 'ubuntu';
    return {
      mode: 'pem',
      host: input.eip,
      user,
      args: ['-i', input.pem, '-o', 'IdentitiesOnly=yes', ...mux, `${user}@${input.eip}`, ...tail],
      reason: `${input.pem} as ${user} (fallback)`,
    };
  }
  if (!input.instanceId)
    throw new UsageError({
      code: 'SSH_INSTANCE_MISSING',
      message: `no INSTANCE_ID for the ${input.stack} broker`,
      hint: `paste INSTANCE_ID= into ${input.brokerEnvFile} (or use --fallback --pem FILE)`,
    });
  const user = input.osUser ?? 'agentkey';
  return {
    mode: 'instance-connect',
    host: input.eip,
    user,
    instanceId: input.instanceId,
    args: ['-o', 'IdentitiesOnly=yes', ...mux, `${user}@${input.eip}`, ...tail],
    reason: `EC2 Instance Connect to ${input.instanceId} as ${user}`,
  };
}
