import { mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { sendSshPublicKey } from '../src/aws/instance-connect.js';
import { readEnvFile } from '../src/config/env-file.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { readProfiles } from '../src/setup/credentials-file.js';
import { planSsh } from '../src/ssh/connect-plan.js';
import { createEphemeralKey } from '../src/ssh/ephemeral-key.js';
import { findExecutable, runInherited, succeeds } from '../src/sys/exec.js';
import { createContext, type GlobalOptions } from './context.js';
import { style } from './ui/format.js';

export interface SshOptions extends GlobalOptions {
  fallback?: boolean;
  pem?: string;
  osUser?: string;
  awsProfile?: string;
  brokerEnvFile?: string;
}

export async function runSsh(options: SshOptions, positional: unknown[]): Promise<ExitCode> {
  const cmd = await createContext({ ...options, envFile: undefined });
  const words = (positional[0] as string[] | undefined) ?? [];
  // commander folds the words after `--` into the same list; argv says where the command starts.
  const dash = process.argv.indexOf('--', 2);
  const { stack, command } = stackAndCommand(
    words,
    dash === -1 ? words.length : words.length - (process.argv.length - dash - 1),
  );
  const ssh = cmd.config.sshBinary ?? 'ssh';
  if (!(await findExecutable(ssh))) {
    throw new UsageError({
      code: 'SSH_NOT_FOUND',
      message: `no ssh client: ${ssh} is not on PATH`,
      hint: 'install an OpenSSH client (apt-get install openssh-client), or point AGENTKEYS_SSH_BINARY at one',
    });
  }
  const brokerEnvFile = options.brokerEnvFile ?? path.join('env', `broker${stack === 'test' ? '.test' : ''}.env`);
  const broker = await readEnvFile(brokerEnvFile, {}, '--broker-env-file');
  const controlDir = path.join(cmd.config.dir, 'ssh');
  mkdirSync(controlDir, { recursive: true, mode: 0o700 });
  const plan = planSsh({
    stack,
    brokerEnvFile,
    ...(broker.INSTANCE_ID ? { instanceId: broker.INSTANCE_ID } : {}),
    ...(broker.EIP ? { eip: broker.EIP } : {}),
    fallback: options.fallback === true,
    ...(options.pem ? { pem: options.pem } : {}),
    ...(options.osUser ? { osUser: options.osUser } : {}),
    command,
    controlDir,
  });
  let args = plan.args;
  let keyDir: string | undefined;
  const controlPath = path.join(controlDir, '%C');
  // A live ControlMaster socket is already authenticated: no new key, no handshake (~50 ms).
  const reuse =
    plan.mode === 'instance-connect' &&
    (await succeeds(ssh, ['-O', 'check', '-o', `ControlPath=${controlPath}`, `${plan.user}@${plan.host}`]));
  if (plan.mode === 'instance-connect' && !reuse) {
    const key = await createEphemeralKey();
    keyDir = path.dirname(key.privateKeyFile);
    const profile = options.awsProfile ?? `agentkeys-broker${stack === 'test' ? '-test' : ''}`;
    const credentialsFile = path.join(cmd.config.dir, 'credentials', `${stack}.ini`);
    const fromSetup = !options.awsProfile && (await readProfiles(credentialsFile)).has(profile);
    await sendSshPublicKey(
      {
        region: broker.BROKER_AWS_REGION ?? cmd.config.region ?? 'us-east-1',
        ...(options.awsProfile ? { profile: options.awsProfile } : {}),
        ...(fromSetup ? { profile, credentialsFile } : {}),
      },
      plan.instanceId!,
      plan.user,
      key.publicKey,
    );
    args = ['-i', key.privateKeyFile, ...args];
  }
  process.stderr.write(
    style.dim(`→ ssh ${plan.user}@${plan.host} (${plan.reason}${reuse ? ', reusing the open connection' : ''})\n`),
  );
  try {
    const code = await runInherited(ssh, args);
    return (code > 255 ? 1 : code) as ExitCode;
  } catch (err) {
    throw new UsageError({
      code: 'SSH_NOT_FOUND',
      message: `cannot run ${ssh}: ${(err as Error).message}`,
      hint: 'install an OpenSSH client (apt-get install openssh-client)',
      cause: err,
    });
  } finally {
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  }
}

/**
 * `[prod|test] [-- CMD…]`: the stack word comes before `--`; anything else there is a typo, not
 * a command (`ssh staging` must not open prod). No word means prod, said on stderr.
 */
function stackAndCommand(words: string[], commandAt: number): { stack: 'prod' | 'test'; command: string[] } {
  const before = words.slice(0, Math.max(0, commandAt));
  const after = words.slice(Math.max(0, commandAt));
  if (before.length > 1 || (before.length === 1 && before[0] !== 'prod' && before[0] !== 'test')) {
    throw new UsageError({
      code: 'STACK_UNKNOWN',
      message: `"${before.join(' ')}" is not a stack: agentkeys ssh takes prod or test`,
      hint: 'agentkeys ssh test -- uptime (the remote command goes after --)',
    });
  }
  if (before.length === 0)
    process.stderr.write(style.dim('→ no stack given: using prod (agentkeys ssh test for the test stack)\n'));
  return { stack: (before[0] as 'prod' | 'test' | undefined) ?? 'prod', command: after };
}
