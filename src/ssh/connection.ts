// One way to reach the broker host, for `agentkeys ssh` (a terminal handed over) and `agentkeys
// broker setup` (scripts with captured output): the route from planSsh, a key pushed by EC2
// Instance Connect unless a multiplexed connection is already open, and the cleanup of that key.
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { sendSshPublicKey } from '../aws/instance-connect.js';
import { AgentkeysError, UsageError } from '../errors.js';
import { readProfiles } from '../setup/credentials-file.js';
import { findExecutable, succeeds } from '../sys/exec.js';
import { planSsh, type SshPlan, type SshPlanInput } from './connect-plan.js';
import { createEphemeralKey } from './ephemeral-key.js';

export interface SshConnectInput extends Omit<SshPlanInput, 'command'> {
  /** The ssh client (AGENTKEYS_SSH_BINARY, default ssh on PATH). */
  binary: string;
  /** agentkeys' config folder: the credentials file setup wrote lives there. */
  configDir: string;
  region: string;
  awsProfile?: string;
  /** The AWS endpoint for SendSSHPublicKey (tests: moto). */
  endpoint?: string;
}

export interface SshConnection {
  plan: SshPlan;
  binary: string;
  /** ssh's arguments up to the host; a remote command goes after them, behind `--`. */
  args: string[];
  /** True when an open ControlMaster socket was found: no key was pushed. */
  reused: boolean;
  /** Removes the pushed key's folder (the connection itself persists for ControlPersist). */
  close(): void;
}

/** The ssh client must exist before anything else is read: its absence is the first thing to fix. */
export async function requireSshClient(binary: string): Promise<void> {
  if (!(await findExecutable(binary)))
    throw new UsageError({
      code: 'SSH_NOT_FOUND',
      message: `no ssh client: ${binary} is not on PATH`,
      hint: 'install an OpenSSH client (apt-get install openssh-client), or point AGENTKEYS_SSH_BINARY at one',
    });
}

/** Plans the route and, for Instance Connect without an open connection, pushes a fresh key. */
export async function connectSsh(input: SshConnectInput): Promise<SshConnection> {
  await requireSshClient(input.binary);
  const plan = planSsh({ ...input, command: [] });
  const controlPath = path.join(input.controlDir, '%C');
  const target = plan.args[plan.args.length - 1]!;
  const portArgs = input.port ? ['-p', String(input.port)] : [];
  // A live ControlMaster socket is already authenticated: no new key, no handshake (~50 ms).
  const reused =
    plan.mode === 'instance-connect' &&
    (await succeeds(input.binary, ['-O', 'check', '-o', `ControlPath=${controlPath}`, ...portArgs, target]));
  if (plan.mode !== 'instance-connect' || reused)
    return { plan, binary: input.binary, args: plan.args, reused, close: () => undefined };
  const key = await createEphemeralKey();
  const keyDir = path.dirname(key.privateKeyFile);
  try {
    const profile = input.awsProfile ?? `agentkeys-broker${input.stack === 'test' ? '-test' : ''}`;
    const credentialsFile = path.join(input.configDir, 'credentials', `${input.stack}.ini`);
    const fromSetup = !input.awsProfile && (await readProfiles(credentialsFile)).has(profile);
    await sendSshPublicKey(
      {
        region: input.region,
        ...(input.endpoint ? { endpoint: input.endpoint } : {}),
        ...(input.awsProfile ? { profile: input.awsProfile } : {}),
        ...(fromSetup ? { profile, credentialsFile } : {}),
      },
      plan.instanceId!,
      plan.user,
      key.publicKey,
    );
  } catch (err) {
    rmSync(keyDir, { recursive: true, force: true });
    throw err;
  }
  return {
    plan,
    binary: input.binary,
    args: ['-i', key.privateKeyFile, ...plan.args],
    reused,
    close: () => rmSync(keyDir, { recursive: true, force: true }),
  };
}

export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A POSIX shell on the host: runs a script as root (sudo -n when the login user is not root). */
export interface HostShell {
  run(script: string): Promise<ShellResult>;
  /** Who and where, for messages: "agentkey@203.0.113.7". */
  readonly describe: string;
}

/** Single-quotes a word for sh: the only character that needs care inside '…' is ' itself. */
export function shQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * What ssh runs on the host: the script arrives on stdin (never on a command line, where `ps`
 * shows it to every user, locally and on the host), goes to a 0600 file only root reads, and runs
 * from there with stdin closed, so a command in it that reads stdin cannot swallow the rest.
 */
const ROOT_RUNNER = 'f=$(mktemp) || exit 97; cat > "$f"; sh "$f" </dev/null; rc=$?; rm -f "$f"; exit $rc';
const REMOTE_RUNNER =
  `if [ "$(id -u)" -eq 0 ]; then exec sh -c ${shQuote(ROOT_RUNNER)}; ` +
  `else exec sudo -n sh -c ${shQuote(ROOT_RUNNER)}; fi`;

/**
 * A HostShell over the connection, without a terminal (BatchMode: a prompt would hang). The
 * script runs under sh -c as root: directly when the login user is root, else through sudo -n,
 * which fails at once when sudo would ask for a password (SSH_SUDO_REQUIRED names it).
 */
export function sshShell(conn: SshConnection, timeoutMs = 300_000): HostShell {
  const describe = `${conn.plan.user}@${conn.plan.host}`;
  return {
    describe,
    async run(script) {
      const result = await execa(conn.binary, ['-o', 'BatchMode=yes', ...conn.args, '--', REMOTE_RUNNER], {
        reject: false,
        timeout: timeoutMs,
        input: script,
      });
      if (result.exitCode === 255 || result.exitCode === undefined)
        throw new AgentkeysError({
          code: 'SSH_CONNECT_FAILED',
          message: `ssh to ${describe} failed: ${lastLine(result.stderr) || result.shortMessage}`,
          hint:
            conn.plan.mode === 'pem'
              ? 'check the .pem, the security group (port 22) and that the instance is running'
              : 'first run: agentkeys broker setup --fallback --pem FILE (the agentkey user comes with step 1)',
        });
      if (/sudo: a password is required|sudo: .*not in the sudoers/.test(result.stderr))
        throw new AgentkeysError({
          code: 'SSH_SUDO_REQUIRED',
          message: `${describe} cannot run commands as root without a password (sudo -n refused)`,
          hint: 'log in as a user with passwordless sudo (ubuntu with --fallback, or agentkey after step 1)',
        });
      return { code: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
    },
  };
}

function lastLine(text: unknown): string {
  return String(text ?? '')
    .trim()
    .split('\n')
    .pop()!
    .trim();
}
