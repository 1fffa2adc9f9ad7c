import { parseWholeNumber } from './options.js';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../src/sys/fs.js';
import { appendSigned } from './audit-writer.js';
import { completedRotation, rotateKmsKey } from '../src/signing/rotate.js';
import { clearKeyCache } from '../src/signing/kms-key-cache.js';
import { AgentkeysError, UsageError, type ExitCode } from '../src/errors.js';
import { currentPair, jwtState, markPublished, rotateJwtKeys, type JwtPair } from '../src/signing/jwt-rotate.js';
import {
  jwtSettings,
  publishToEnvFile,
  publishToSecret,
  waitUntilServed,
  type ServedReport,
} from '../src/signing/jwt-publish.js';
import { runHook } from '../src/sys/exec.js';
import { progressLine } from './ui/progress.js';
import { openStore } from '../src/store/store.js';
import { createContext, writerStoreOptions, type CommandContext, type GlobalOptions } from './context.js';
import { printKmsCalls, printRetired, retireWithTrail, withKmsTrail } from './kms-support.js';
import { confirm } from './ui/prompt.js';
import { printJson, printLine, style } from './ui/format.js';

export interface RotateKeyOptions extends GlobalOptions {
  alias?: string;
  spec?: string;
  signers?: string;
  log?: string;
  overlapDays?: string;
  jwt?: string;
  yes?: boolean;
  kid?: string;
  finish?: boolean;
  force?: boolean;
  publishSecret?: string;
  publishEnv?: string;
  restartCommand?: string;
  ecsService?: string;
  jwksUrl?: string;
  wait?: string;
}

export async function runRotateKey(options: RotateKeyOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const overlapDays = parseWholeNumber(options.overlapDays ?? '30', '--overlap-days');
  if (options.jwt) return runJwtRotation(ctx, options, options.jwt, overlapDays);
  if (!options.alias)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--alias (or --jwt DIR) is required',
      hint: 'agentkeys rotate-key --alias alias/agent-audit --signers signers.json',
    });
  if (options.finish) {
    const receipt = await completedRotation(path.join(ctx.config.dir, 'rotations'), options.alias);
    const registry = options.signers ?? ctx.config.signersPath;
    printRetired(ctx, await retireWithTrail(ctx, receipt.oldKeyArn, { ...options, signers: registry }), registry);
    return 0;
  }
  await confirm(ctx, `Create a new KMS key and move ${options.alias} to it?`, '--yes', options.yes === true);
  const log = ctx.config.log;
  const result = await withKmsTrail(ctx, async () =>
    rotateKmsKey(await ctx.services.kms(), {
      alias: options.alias!,
      ...(options.spec ? { spec: options.spec } : {}),
      ...((options.signers ?? ctx.config.signersPath)
        ? { signersPath: options.signers ?? ctx.config.signersPath }
        : {}),
      overlapDays,
      stateDir: path.join(ctx.config.dir, 'rotations'),
      ...(options.kid ? { kid: options.kid } : {}),
      ...(log
        ? {
            appendEvents: async (signer, events) => {
              const store = openStore(log, writerStoreOptions(ctx));
              try {
                await appendSigned(ctx, store, signer, events);
              } finally {
                await store.close();
              }
            },
          }
        : {}),
    }),
  );
  // The alias names another key now: no writer here may keep signing with the cached old one.
  await clearKeyCache(ctx.config.dir);
  const setting = await signerKidSetting(ctx, result.receipt, options.yes === true);
  printKmsCalls(ctx);
  if (ctx.out.json)
    printJson({ ok: true, resumed: result.resumed, ...result.receipt, done: result.done, setting: setting ?? null });
  else {
    if (result.resumed) printLine(style.warn('resuming an interrupted rotation'));
    for (const step of result.done) printLine(`${style.ok('✔')} ${step}`);
    if (result.done.length === 0) printLine(`${style.ok('✔')} nothing left to do`);
    printLine(style.dim(`  ${result.receipt.alias}: ${result.receipt.oldKeyArn} → ${result.receipt.newKeyArn}`));
    if (result.receipt.newKid !== result.receipt.newKeyArn)
      printLine(style.dim(`  kid ${result.receipt.oldKid} → ${result.receipt.newKid}`));
    if (setting?.updated) printLine(`${style.ok('✔')} ${setting.file}: AUDIT_SIGNER_KID=${setting.value}`);
    else if (setting) printLine(style.warn(`! set AUDIT_SIGNER_KID=${setting.value} (now from ${setting.origin})`));
  }
  return 0;
}

/**
 * Writers keep signing as AUDIT_SIGNER_KID says, and sign refuses the old kid with the new key: the
 * setting must move with the rotation. With --yes, a settings file it came from is updated in
 * place (atomically, its mode kept); from the environment or a flag, the operator is told.
 */
async function signerKidSetting(
  ctx: CommandContext,
  receipt: { oldKid?: string; newKid?: string; newKeyArn?: string },
  yes: boolean,
): Promise<{ value: string; origin: string; file?: string; updated: boolean } | undefined> {
  const current = ctx.config.signerKid;
  if (!current || current !== receipt.oldKid || !receipt.newKid) return undefined;
  const origin = ctx.config.origins.signerKid ?? 'AUDIT_SIGNER_KID';
  const file = /^(.+) AUDIT_SIGNER_KID$/.exec(origin)?.[1];
  if (!yes || !file || file.startsWith('environment')) return { value: receipt.newKid, origin, updated: false };
  await replaceSetting(file, 'AUDIT_SIGNER_KID', receipt.newKid);
  return { value: receipt.newKid, origin, file, updated: true };
}

async function replaceSetting(file: string, key: string, value: string): Promise<void> {
  const text = await fsp.readFile(file, 'utf8');
  const mode = (await fsp.stat(file)).mode & 0o777;
  const line = new RegExp(`^(\\s*(?:export\\s+)?)${key}=.*$`, 'm');
  await writeFileAtomic(file, text.replace(line, `$1${key}=${value}`), { mode });
}

interface JwtTargets {
  secret?: string;
  env?: string;
  ecs?: { cluster: string; service: string };
  command?: string;
  jwksUrl?: string;
}

function jwtTargets(options: RotateKeyOptions): JwtTargets {
  const ignored = (['alias', 'spec', 'signers', 'log'] as const).filter((k) => options[k] !== undefined);
  if (ignored.length > 0)
    throw new UsageError({
      code: 'FLAG_CONFLICT',
      message: `--jwt rotates the JWT pair only; ${ignored.map((k) => `--${k}`).join(', ')} would be ignored`,
      hint: 'run the KMS rotation separately: agentkeys rotate-key --alias …',
    });
  const ecs = options.ecsService === undefined ? undefined : /^([^/\s]+)\/([^/\s]+)$/.exec(options.ecsService);
  if (ecs === null)
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--ecs-service "${options.ecsService}" is not CLUSTER/SERVICE`,
      hint: '--ecs-service agentidp-prod/agentidp',
    });
  if (options.jwksUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(options.jwksUrl))
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--jwks-url "${options.jwksUrl}" is not an http(s) URL`,
      hint: '--jwks-url https://idp.example.com/.well-known/jwks.json',
    });
  return {
    ...(options.publishSecret ? { secret: options.publishSecret } : {}),
    ...(options.publishEnv ? { env: options.publishEnv } : {}),
    ...(ecs ? { ecs: { cluster: ecs[1]!, service: ecs[2]! } } : {}),
    ...(options.restartCommand ? { command: options.restartCommand } : {}),
    ...(options.jwksUrl ? { jwksUrl: options.jwksUrl } : {}),
  };
}

/**
 * rotate-key --jwt DIR: a new RS256 pair in DIR, then (when asked) published where AgentIdP reads
 * it, the service restarted, and its JWKS checked for the new key. A publication that did not
 * finish is resumed by the next run (the same key, never a second one).
 */
async function runJwtRotation(
  ctx: CommandContext,
  options: RotateKeyOptions,
  dir: string,
  overlapDays: number,
): Promise<ExitCode> {
  const targets = jwtTargets(options);
  const waitMs = parseWholeNumber(options.wait ?? '120', '--wait', { max: 3600 }) * 1000;
  const publishing = Object.keys(targets).length > 0;
  const state = await jwtState(dir);
  const resume = publishing && state !== undefined && state.published !== state.current;
  await confirm(
    ctx,
    resume
      ? `Publish the JWT key ${state!.current} of ${dir} (made earlier, not yet published)?`
      : `Create a new RS256 JWT key in ${dir} and publish both keys?`,
    '--yes',
    options.yes === true,
  );
  const rotation = resume ? undefined : await rotateJwtKeys(dir, overlapDays);
  const pair = await currentPair(dir);
  const done: string[] = [];
  if (!rotation) done.push(`${pair.kid}: made earlier, not yet published; publishing it (no new key)`);
  else
    done.push(
      `new RS256 key ${rotation.kid} (${rotation.privateKeyFile}, 0600); ${rotation.jwksFile} publishes ` +
        `${rotation.published.length} key(s) for the ${overlapDays}-day overlap` +
        (rotation.pruned.length ? `; dropped ${rotation.pruned.join(', ')}` : ''),
    );
  const served = await publishJwt(ctx, targets, pair, waitMs, done);
  if (publishing) await markPublished(dir, pair.kid);
  if (ctx.out.json)
    printJson({
      ok: true,
      kid: pair.kid,
      resumed: resume,
      ...(rotation ? { privateKeyFile: rotation.privateKeyFile, jwksFile: rotation.jwksFile } : {}),
      published: pair.jwks.keys.map((k) => k.kid),
      pruned: rotation?.pruned ?? [],
      done,
      served: served ?? null,
    });
  else {
    for (const line of done) printLine(`${style.ok('✔')} ${line}`);
    if (served && served.retiringMissing.length > 0)
      printLine(
        style.warn(
          `! the service no longer serves ${served.retiringMissing.join(', ')}: tokens signed before the ` +
            'rotation fail until they expire (serve JWT_JWKS to keep the overlap)',
        ),
      );
  }
  return 0;
}

async function publishJwt(
  ctx: CommandContext,
  targets: JwtTargets,
  pair: JwtPair,
  waitMs: number,
  done: string[],
): Promise<ServedReport | undefined> {
  const settings = jwtSettings(pair);
  if (targets.secret) {
    const r = await publishToSecret(await ctx.services.secrets(), targets.secret, settings);
    done.push(r.changed ? `${targets.secret}: new version ${r.version} (AWSCURRENT)` : `${targets.secret}: up to date`);
  }
  if (targets.env) {
    const tightened = await keepPrivate(targets.env);
    const changed = await publishToEnvFile(targets.env, settings);
    const note = tightened ? ' (group and others lost their access)' : '';
    done.push(`${targets.env}: ${changed ? 'JWT settings written' : 'up to date'}${note}`);
  }
  if (targets.ecs) {
    const { cluster, service } = targets.ecs;
    const deployment = await (await ctx.services.ecs()).forceNewDeployment(cluster, service);
    done.push(`${cluster}/${service}: new deployment ${deployment ?? ''}`.trimEnd());
  }
  if (targets.command) {
    const r = await runHook(targets.command, { AGENTKEYS_JWT_KID: pair.kid }, 300_000);
    if (r.code !== 0)
      throw new AgentkeysError({
        code: 'JWT_RESTART_FAILED',
        message: `the restart command exited ${r.code}${r.tail ? `: ${r.tail}` : ''}`,
        hint: 'the pair is published; fix the restart and run the same command again (it resumes: no new key)',
      });
    done.push('restart command succeeded');
  }
  if (!targets.jwksUrl) return undefined;
  const progress = progressLine(ctx.out);
  const served = await waitUntilServed(targets.jwksUrl, pair, {
    waitMs,
    onWait: (s) => progress.update(`  waiting for ${targets.jwksUrl} to serve ${pair.kid} (${s} s)…`),
  }).finally(() => progress.done());
  done.push(`${targets.jwksUrl} serves ${pair.kid} (after ${served.afterSeconds} s)`);
  return served;
}

/** The .env file holds the private key from now on: group and others lose their access. */
async function keepPrivate(file: string): Promise<boolean> {
  const mode = await fsp.stat(file).then(
    (s) => s.mode & 0o777,
    () => {
      throw new UsageError({
        code: 'ENV_FILE_NOT_FOUND',
        message: `${file} does not exist`,
        hint: "name AgentIdP's .env file: --publish-env /srv/agentidp/.env",
      });
    },
  );
  if ((mode & 0o077) === 0) return false;
  await fsp.chmod(file, mode & 0o700);
  return true;
}
