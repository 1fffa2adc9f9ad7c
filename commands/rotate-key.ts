import { parseWholeNumber } from './options.js';
import * as path from 'node:path';
import { appendSigned } from './audit-writer.js';
import { rotateKmsKey } from '../src/signing/rotate.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { rotateJwtKeys } from '../src/signing/jwt-rotate.js';
import { openStore } from '../src/store/store.js';
import { createContext, writerStoreOptions, type GlobalOptions } from './context.js';
import { printKmsCalls, withKmsTrail } from './kms-support.js';
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
  printKmsCalls(ctx);
  if (ctx.out.json) printJson({ ok: true, resumed: result.resumed, ...result.receipt, done: result.done });
  else {
    if (result.resumed) printLine(style.warn('resuming an interrupted rotation'));
    for (const step of result.done) printLine(`${style.ok('✔')} ${step}`);
    if (result.done.length === 0) printLine(`${style.ok('✔')} nothing left to do`);
    printLine(style.dim(`  ${result.receipt.alias}: ${result.receipt.oldKeyArn} → ${result.receipt.newKeyArn}`));
  }
  return 0;
}
