import { withStore } from '../src/store/store.js';
import { rebuildSigners } from '../src/signing/signers-rebuild.js';
import { parseNote } from '../src/audit/checkpoint.js';
import { requireLog } from '../src/config/load.js';
import { AgentkeysError, UsageError, type ExitCode } from '../src/errors.js';
import { readSignerRegistryIfExists, writeSignerRegistry } from '../src/signing/registry.js';
import { createContext, type GlobalOptions } from './context.js';
import { printKmsCalls } from './kms-support.js';
import { printJson, printLine, style } from './ui/format.js';

export interface SignersRebuildOptions extends GlobalOptions {
  log?: string;
  out?: string;
  plan?: boolean;
  strict?: boolean;
}

export async function runSignersRebuild(options: SignersRebuildOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const log = requireLog(ctx.config);
  const out = options.out ?? ctx.config.signersPath;
  if (!out) throw new UsageError({ code: 'FLAG_MISSING', message: '--out is required' });
  const kids = new Set<string>();
  await withStore(log, { statementTimeoutMs: ctx.config.pgStatementTimeoutMs }, async (store) => {
    for await (const row of store.rows({ skipMalformed: true })) if (row.signer_kid) kids.add(row.signer_kid);
    for (const name of checkpointSigners(await store.readCheckpoints())) kids.add(name);
  });
  const existing = await readSignerRegistryIfExists(out);
  const result = await rebuildSigners(await ctx.services.kms(), kids, existing);
  if (!options.plan) await writeSignerRegistry(out, result.registry);
  printKmsCalls(ctx);
  if (ctx.out.json) {
    printJson({
      ok: result.unresolved.length === 0,
      out,
      written: !options.plan,
      changes: result.changes,
      unresolved: result.unresolved,
    });
  } else {
    for (const c of result.changes) {
      const mark = c.action === 'add' ? style.ok('+') : c.action === 'update' ? style.warn('~') : style.dim('=');
      printLine(`  ${mark} ${c.signerId} ${style.dim(c.detail)}`);
    }
    for (const u of result.unresolved) printLine(`  ${style.bad('!')} ${u.signerId} ${u.reason}`);
    const verb = options.plan ? 'would write' : 'wrote';
    printLine(
      `${options.plan ? style.warn('plan:') : style.ok('✔')} ${verb} ${out}: ` +
        `${result.registry.signers.length} signer(s) from ${kids.size} kid(s) in ` +
        `the log${result.unresolved.length ? `, ${result.unresolved.length} unresolved` : ''}`,
    );
  }
  if (options.strict && result.unresolved.length > 0) return 1;
  // As setup --plan and db migrate --plan: 4 when the plan has changes to make.
  return options.plan && result.changes.some((c) => c.action !== 'keep') ? 4 : 0;
}

/** Checkpoint mode's signers are the key names of the checkpoint notes (rows carry none). */
function checkpointSigners(notes: readonly string[]): string[] {
  return notes.flatMap((note) => {
    try {
      return parseNote(note).signatures.map((s) => s.name);
    } catch (err) {
      if (err instanceof AgentkeysError) return []; // verify-audit names a malformed note
      throw err;
    }
  });
}
