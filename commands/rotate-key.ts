import { parseWholeNumber } from './options.js';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../src/sys/fs.js';
import { appendSigned } from './audit-writer.js';
import { completedRotation, rotateKmsKey } from '../src/signing/rotate.js';
import { clearKeyCache } from '../src/signing/kms-key-cache.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { rotateJwtKeys } from '../src/signing/jwt-rotate.js';
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
}

export async function runRotateKey(options: RotateKeyOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const overlapDays = parseWholeNumber(options.overlapDays ?? '30', '--overlap-days');
  if (options.jwt) {
    const ignored = (['alias', 'spec', 'signers', 'log'] as const)
      .filter((k) => options[k] !== undefined)
      .map((k) => `--${k}`);
    if (ignored.length > 0)
      throw new UsageError({
        code: 'FLAG_CONFLICT',
        message: `--jwt rotates the JWT pair only; ${ignored.join(', ')} would be ignored`,
        hint: 'run the KMS rotation separately: agentkeys rotate-key --alias …',
      });
    await confirm(
      ctx,
      `Create a new RS256 JWT key in ${options.jwt} and publish both keys?`,
      '--yes',
      options.yes === true,
    );
    const r = await rotateJwtKeys(options.jwt, overlapDays);
    if (ctx.out.json) printJson({ ok: true, ...r });
    else {
      printLine(`${style.ok('✔')} new RS256 key ${style.bold(r.kid)} ${style.dim(`(${r.privateKeyFile}, 0600)`)}`);
      printLine(
        `  ${r.jwksFile} publishes ${r.published.length} key(s) for the ${overlapDays}-day ` +
          `overlap${r.pruned.length ? `; dropped ${r.pruned.join(', ')}` : ''}`,
      );
    }
    return 0;
  }
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
