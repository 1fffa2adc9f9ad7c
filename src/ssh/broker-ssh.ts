// The broker host's SSH connection, as `agentkeys ssh` and `broker setup` open it: where the host
// is comes from the stack's broker env file (EIP, INSTANCE_ID, SSH_PORT), who and how from flags.
import { mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { AgentkeysConfig } from '../config/load.js';
import { readEnvFile } from '../config/env-file.js';
import { UsageError } from '../errors.js';
import { connectSsh, requireSshClient, type SshConnection } from './connection.js';

export interface BrokerSshOptions {
  stack: 'prod' | 'test';
  fallback?: boolean;
  pem?: string;
  osUser?: string;
  awsProfile?: string;
  brokerEnvFile?: string;
}

/** The broker host's ssh connection from the stack's broker env file (EIP, INSTANCE_ID, SSH_PORT). */
export async function openBrokerSsh(config: AgentkeysConfig, options: BrokerSshOptions): Promise<SshConnection> {
  if (options.pem) assertUsablePem(options.pem);
  const binary = config.sshBinary ?? 'ssh';
  await requireSshClient(binary);
  const brokerEnvFile =
    options.brokerEnvFile ?? path.join('env', `broker${options.stack === 'test' ? '.test' : ''}.env`);
  const broker = await readEnvFile(brokerEnvFile, {}, '--broker-env-file');
  const controlDir = path.join(config.dir, 'ssh');
  mkdirSync(controlDir, { recursive: true, mode: 0o700 });
  return connectSsh({
    binary,
    configDir: config.dir,
    region: broker.BROKER_AWS_REGION ?? config.region ?? 'us-east-1',
    ...(options.awsProfile ? { awsProfile: options.awsProfile } : {}),
    stack: options.stack,
    brokerEnvFile,
    ...(broker.INSTANCE_ID ? { instanceId: broker.INSTANCE_ID } : {}),
    ...(broker.EIP ? { eip: broker.EIP } : {}),
    ...(broker.SSH_PORT ? { port: sshPort(broker.SSH_PORT, brokerEnvFile) } : {}),
    fallback: options.fallback === true,
    ...(options.pem ? { pem: options.pem } : {}),
    ...(options.osUser ? { osUser: options.osUser } : {}),
    controlDir,
  });
}

function sshPort(value: string, file: string): number {
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port < 1 || port > 65535)
    throw new UsageError({
      code: 'ENV_FILE_INVALID',
      message: `${file}: SSH_PORT "${value}" is not a port (1-65535)`,
      hint: 'SSH_PORT=22, or remove the line',
    });
  return port;
}

/** ssh refuses a key others can read, with a warning that hides the cause: said before ssh runs. */
function assertUsablePem(pem: string): void {
  let mode: number;
  try {
    mode = statSync(pem).mode & 0o777;
  } catch {
    throw new UsageError({
      code: 'KEY_NOT_FOUND',
      message: `--pem ${pem} does not exist`,
      hint: 'the key pair file EC2 gave when the instance was launched (ssh-keygen cannot make it again)',
    });
  }
  if ((mode & 0o077) !== 0)
    throw new UsageError({
      code: 'KEY_FILE_TOO_OPEN',
      message: `--pem ${pem} can be read by others (mode ${mode.toString(8).padStart(4, '0')}); ssh refuses such a key`,
      hint: `chmod 600 ${pem}`,
    });
}
