import { existsSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError, type ExitCode } from '../src/errors.js';
import { assertMotoInstalled, startMoto, type Moto } from '../src/sandbox/moto.js';
import { reopenSandbox, seedSandbox, type SandboxSeed } from '../src/sandbox/seed.js';
import { loadStack } from '../src/config/stack.js';
import { assertParentDirExists } from '../src/sys/fs.js';
import { createContext, type GlobalOptions } from './context.js';
import { checkSetupFlags, runSetupFor, type SetupOptions } from './setup-run.js';
import { printJson, printLine, style } from './ui/format.js';
import { runTeardownFor, type TeardownCommandOptions } from './teardown-run.js';
import { runDoctorFor, type DoctorOptions } from './doctor-run.js';

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
    const cmd = await sandboxContext(options, seed, moto);
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
    const stack = await sandboxStack(seed, test, keep ? options.keep : undefined);
    const noBroker = async (): Promise<never> => {
      throw new Error('the sandbox has no broker host: in the sandbox this step waits by design');
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

/** The command context of a sandbox: its own environment pointed at moto, its admin's keys. */
async function sandboxContext(options: GlobalOptions, seed: SandboxSeed, moto: Moto) {
  // This process's environment, pointed at moto, with no profile or settings of the operator's;
  // process.env itself is never changed.
  const { AWS_PROFILE: _profile, AGENTKEYS_SETTINGS: _settings, ...own } = process.env;
  return createContext(
    {
      ...options,
      envFile: undefined,
      settings: undefined,
      dir: path.join(seed.dir, '.agentkeys'),
      profile: undefined,
      roleArn: undefined,
    },
    { env: { ...own, ...moto.env }, awsCredentials: seed.credentials },
  );
}

/** The sandbox's stack; its fixes re-run `setup --sandbox` (of the kept folder, when there is one). */
async function sandboxStack(seed: SandboxSeed, test: boolean, keepFlag: string | undefined) {
  return {
    ...(await loadStack({ test, envDir: path.join(seed.dir, 'env'), baseEnv: {} })),
    rerunCommand: `agentkeys setup --sandbox${keepFlag ? ` --keep ${keepFlag}` : ''}`,
  };
}

/** The kept sandbox in --keep DIR, or SANDBOX_NOT_FOUND naming the command that makes one. */
async function keptSandbox(keepFlag: string | undefined, what: string): Promise<{ keep: string; seed: SandboxSeed }> {
  const keep = keepFlag ? path.resolve(keepFlag) : undefined;
  const seed = keep ? await reopenSandbox(keep) : undefined;
  if (!keep || !seed)
    throw new UsageError({
      code: 'SANDBOX_NOT_FOUND',
      message: keep ? `${keep} holds no kept sandbox` : `${what} --sandbox looks at a kept sandbox: --keep DIR`,
      hint: `make one first: agentkeys setup --sandbox --keep ${keepFlag ?? 'sbx'}`,
    });
  return { keep, seed };
}

/** moto serving the account kept in DIR (what changes is saved when it stops). */
const motoOfKept = (keep: string) => startMoto({ extraEnv: { MOTO_STATE_FILE: path.join(keep, 'moto-state.pickle') } });

/**
 * `agentkeys doctor --sandbox --keep DIR`: doctor's checks of the kept sandbox's stack, against
 * its moto; the checks of what the broker host serves are skipped (the sandbox has none).
 */
export async function runSandboxDoctor(options: DoctorOptions & { keep?: string }): Promise<ExitCode> {
  assertMotoInstalled();
  const { keep, seed } = await keptSandbox(options.keep, 'doctor');
  const moto = await motoOfKept(keep);
  try {
    const cmd = await sandboxContext(options, seed, moto);
    const stack = await sandboxStack(seed, options.test !== false, options.keep);
    return await runDoctorFor(cmd, options, { stack, noBrokerHost: 'the sandbox has no broker host' });
  } finally {
    await moto.stop();
  }
}

/**
 * `agentkeys teardown --sandbox --keep DIR`: the kept sandbox's stack deleted as teardown deletes
 * a real one (confirmed: it is a sandbox), its moto state saved, so `setup --sandbox --keep DIR`
 * starts over in the same account.
 */
export async function runSandboxTeardown(options: TeardownCommandOptions): Promise<ExitCode> {
  assertMotoInstalled();
  const { keep, seed } = await keptSandbox(options.keep, 'teardown');
  const moto = await motoOfKept(keep);
  try {
    const cmd = await sandboxContext(options, seed, moto);
    return await runTeardownFor(cmd, await sandboxStack(seed, options.test !== false, options.keep), {
      ...options,
      yes: true,
    });
  } finally {
    await moto.stop();
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
  const moto = keep ? await motoOfKept(keep) : await startMoto({});
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
