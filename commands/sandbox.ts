import { existsSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError, type ExitCode } from '../src/errors.js';
import { assertMotoInstalled, startMoto } from '../src/sandbox/moto.js';
import { reopenSandbox, seedSandbox, type SandboxSeed } from '../src/sandbox/seed.js';
import { loadStack } from '../src/config/stack.js';
import { assertParentDirExists } from '../src/sys/fs.js';
import { createContext, type GlobalOptions } from './context.js';
import { checkSetupFlags, runSetupFor, type SetupOptions } from './setup-run.js';
import { printJson, printLine, style } from './ui/format.js';

export interface SandboxOptions extends SetupOptions {
  /** Keep the sandbox (env files, keys, moto's state) in this folder, so the next run continues it. */
  keep?: string;
}

/**
 * `agentkeys setup --sandbox`: the whole flow against a moto started on loopback by the CLI, with
 * the hosted zone and instance the flow expects seeded first, so a new operator can watch a full
 * provisioning with no AWS account. Without --keep everything it made (the folder, moto's log) is
 * removed at the end; with --keep DIR a second run reopens DIR and shows an idempotent run.
 */
export async function runSandbox(options: SandboxOptions): Promise<ExitCode> {
  checkSetupFlags(options);
  assertMotoInstalled();
  const keep = options.keep ? path.resolve(options.keep) : undefined;
  if (keep) {
    await assertParentDirExists(keep, '--keep');
    mkdirSync(keep, { recursive: true, mode: 0o700 });
  }
  const moto = await startMoto(keep ? { extraEnv: { MOTO_STATE_FILE: path.join(keep, 'moto-state.pickle') } } : {});
  let seed: SandboxSeed | undefined;
  try {
    const test = options.test !== false;
    const reopened = keep ? await reopenSandbox(keep) : undefined;
    seed = reopened ?? (await seedSandbox(test, moto.endpoint, 'us-east-1', keep));
    const dir = path.join(seed.dir, '.agentkeys');
    // The sandbox's own environment: this process's, pointed at moto, with no profile of the
    // operator's; process.env itself is never changed.
    const { AWS_PROFILE: _profile, AGENTKEYS_SETTINGS: _settings, ...own } = process.env;
    const env = { ...own, ...moto.env };
    const cmd = await createContext(
      { ...options, envFile: undefined, settings: undefined, dir, profile: undefined, roleArn: undefined },
      { env, awsCredentials: seed.credentials },
    );
    if (!cmd.out.json) {
      printLine(
        style.dim(
          `sandbox: moto on ${moto.endpoint}; hosted zone litentry.org (${seed.zoneId}); ` +
            `instance ${seed.instanceId}; caller ${seed.adminArn}`,
        ),
      );
      printLine(
        style.dim(
          reopened
            ? `sandbox: continuing the kept sandbox in ${seed.dir}`
            : `sandbox: env files and state in ${seed.dir}` +
                (keep
                  ? ' (kept: run the same command again to see a second, idempotent run)'
                  : ' (removed at the end; --keep DIR keeps it)'),
        ),
      );
    }
    const stack = {
      ...(await loadStack({ test, envDir: path.join(seed.dir, 'env'), baseEnv: {} })),
      rerunCommand: `agentkeys setup --sandbox${keep ? ` --keep ${options.keep}` : ''}`,
    };
    const noBroker = async (): Promise<never> => {
      throw new Error('the sandbox has no broker host serving TLS');
    };
    return await runSetupFor(cmd, stack, { ...options, yes: true }, { fetchJson: noBroker });
  } finally {
    await moto.stop();
    if (!keep) {
      if (seed && existsSync(seed.dir)) rmSync(seed.dir, { recursive: true, force: true });
      rmSync(moto.logFile, { force: true });
    }
  }
}

export interface SandboxServeOptions extends GlobalOptions {
  keep?: string;
}

/**
 * `agentkeys sandbox`: a local AWS (moto on loopback, with agentkeys' fixes) that stays up until
 * Ctrl-C, and the environment that points the SDK (and agentkeys) at it, so encrypt, evm and mcp
 * can be tried with no account. With --keep DIR of a kept `setup --sandbox`, it is that account:
 * its keys and its admin's credentials, and what is done now is kept for the next run.
 */
export async function runSandboxServe(options: SandboxServeOptions): Promise<ExitCode> {
  assertMotoInstalled();
  const keep = options.keep ? path.resolve(options.keep) : undefined;
  const reopened = keep ? await reopenSandbox(keep) : undefined;
  if (keep && !reopened)
    throw new UsageError({
      code: 'SANDBOX_NOT_FOUND',
      message: `${keep} holds no kept sandbox`,
      hint: `make one first: agentkeys setup --sandbox --keep ${options.keep}`,
    });
  const moto = await startMoto(keep ? { extraEnv: { MOTO_STATE_FILE: path.join(keep, 'moto-state.pickle') } } : {});
  const env = {
    ...moto.env,
    ...(reopened
      ? {
          AWS_ACCESS_KEY_ID: reopened.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: reopened.credentials.secretAccessKey,
        }
      : {}),
  };
  const json = options.json === true;
  if (json) printJson({ ok: true, endpoint: moto.endpoint, env });
  else {
    printLine(
      style.dim(`sandbox: moto on ${moto.endpoint}${reopened ? `, the kept account in ${keep}` : ''}; Ctrl-C stops it`),
    );
    printLine(style.dim("# in another shell (the keys are moto's, not AWS's):"));
    for (const [k, v] of Object.entries(env)) printLine(`export ${k}=${v}`);
  }
  // Ctrl-C stops moto (a kept account is saved by it as it exits), then this command ends: exit 0.
  process.removeAllListeners('SIGINT');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await moto.stop();
  if (!keep) rmSync(moto.logFile, { force: true });
  if (!json) printLine(style.dim('sandbox stopped'));
  return 0;
}
