import { verifierRegistry } from '../src/signing/registry-input.js';
import { parseWholeNumber } from './options.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import type { VerifyAuditOptions, VerifyAuditReport } from '../src/audit/verify-source.js';
import { verifyAuditLog } from '../src/store/verify.js';
import { withStore } from '../src/store/store.js';
import { findOrigin } from '../src/audit/origin.js';
import { registryKeyOf } from '../src/audit/writer-trust.js';
import { printKmsCalls } from './kms-support.js';
import { exitCodeOfFindings, problemCount } from '../src/audit/findings.js';
import { defaultOrigin } from '../src/audit/checkpointing.js';
import { parseWitnessUrl, readWitness, type WitnessReading } from '../src/store/witness.js';
import { requireLog } from '../src/config/load.js';
import { redactUrl } from '../src/db/pg.js';
import { createContext, type CommandContext, type GlobalOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';
import { count, progressLine } from './ui/progress.js';

export interface VerifyAuditCommandOptions extends GlobalOptions {
  log?: string;
  signers?: string;
  hmacKey?: string[];
  anchor?: string | boolean;
  from?: string;
  workers?: string;
  slack?: string;
  kmsVerify?: string | boolean;
  proof?: string;
  witness?: string;
  origin?: string;
}

export const UNCOVERED_FIELDS_NOTE =
  'actor_id, event_type and created_at (and id, signer_kid) are not covered ' +
  'by the Agent Manager signature scheme: only the payload and the link to ' +
  'the previous event are signed.';

/**
 * Every checkpoint the witness holds for this log's origin, each version; the log must hold them
 * all. The origin is --origin, else the one the log's trusted checkpoints (or genesis) name.
 */
async function readWitnessFor(
  ctx: CommandContext,
  url: string,
  log: string,
  pinned: string | undefined,
): Promise<{ origin: string; reading: WitnessReading }> {
  const keyOf = await registryKeyOf(await verifierRegistry(ctx.config));
  const found = pinned ?? (await withStore(log, {}, (store) => findOrigin(store, keyOf, store.label)));
  const origin = found ?? defaultOrigin(log);
  return { origin, reading: await readWitness(await ctx.services.witnessObjects(), parseWitnessUrl(url), origin) };
}

const CHECKPOINT_FIELDS_NOTE =
  'checkpoints cover every field of an event (id, actor_id, event_type, created_at, payload, link); ' +
  'per-row signatures cover only the payload and the link.';

export async function runVerifyAudit(options: VerifyAuditCommandOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const log = requireLog(ctx.config);
  const read = options.witness ? await readWitnessFor(ctx, options.witness, log, options.origin) : undefined;
  const reading = read?.reading;
  const origin = read?.origin;
  const witnessed = reading?.notes ?? [];
  const progress = progressLine(ctx.out);
  const report = await verifyAuditLog({
    extraCheckpoints: witnessed.map((w) => w.note),
    extraFindings: reading?.findings ?? [],
    extraAnchors: reading?.anchors.map((a) => a.text) ?? [],
    ...(options.origin ? { expectedOrigin: options.origin } : {}),
    onProgress: (events, bytes, total) =>
      progress.update(`  verifying ${count(events)} events${percent(bytes, total)}…`),
    log,
    statementTimeoutMs: ctx.config.pgStatementTimeoutMs,
    signersPath: await verifierRegistry(ctx.config),
    hmacKeyFiles: parseHmacKeys(options.hmacKey ?? []),
    ...(options.anchor === false
      ? { anchor: false as const }
      : typeof options.anchor === 'string'
        ? { anchor: options.anchor }
        : {}),
    ...(options.from ? { trustedStart: options.from } : {}),
    ...(options.workers !== undefined ? { workers: parseWholeNumber(options.workers, '--workers', { max: 64 }) } : {}),
    slackMs: parseWholeNumber(options.slack ?? '60', '--slack') * 1000,
    ...(await kmsVerifyOptions(options.kmsVerify, ctx)),
  }).finally(() => progress.done());
  printKmsCalls(ctx);
  if (ctx.out.json)
    printJson({
      ok: report.ok,
      events: report.events,
      head: report.head,
      findings: report.findings,
      anchor: report.anchor,
      checkpoints: report.checkpoints,
      ...(reading
        ? {
            witnessed: witnessed.map(({ key, versionId, size, origin }) => ({ key, versionId, size, origin })),
            witnessedAnchors: reading.anchors.map(({ key, versionId, events }) => ({ key, versionId, events })),
            witnessVersions: reading.versions,
          }
        : {}),
      registryWarnings: report.registryWarnings,
    });
  else {
    printHuman(report, redactUrl(log), reading !== undefined);
    if (reading && witnessed.length > 0) {
      const sizes = witnessed.map((w) => w.size);
      printLine(
        style.dim(
          `  witness: ${witnessed.length} checkpoint(s) of ${origin} (${reading.versions} object version(s) read), ` +
            `tree sizes ${sizes[0]}..${sizes.at(-1)}, each checked against the log`,
        ),
      );
    }
    if (reading && reading.anchors.length > 0)
      printLine(
        style.dim(
          `  witness: ${reading.anchors.length} anchor(s) of ${origin}, ` +
            `${reading.anchors[0]!.events}..${reading.anchors.at(-1)!.events} events, each checked against the log`,
        ),
      );
    if (options.witness && witnessed.length === 0 && reading?.anchors.length === 0)
      printLine(style.warn(`! no checkpoint of ${origin} witnessed in ${options.witness} yet`));
  }
  return exitCodeOfFindings(report.findings);
}

function printHuman(report: VerifyAuditReport, log: string, witnessed: boolean): void {
  for (const w of report.registryWarnings) printLine(style.warn(`! signer registry: ${w}`));
  const anchor = report.anchorPath
    ? `, signed anchor ${report.anchorPath} (${report.anchor?.events ?? '?'} events)`
    : report.checkpoints
      ? ''
      : ', no anchor (a dropped tail cannot be detected)';
  if (report.ok) {
    printLine(`${style.ok('✔')} ${log}: chain intact, ${report.events} event(s)${anchor}`);
    if (report.head) printLine(style.dim(`  head ${report.head}`));
    // Nothing to check is not the same as checked: a log whose every event was removed looks like this.
    if (report.events === 0 && !report.anchorPath && !report.checkpoints)
      printLine(
        style.warn(`! ${log} holds no events and no anchor: a log emptied by someone with write access looks the same`),
      );
    for (const f of report.findings) printLine(`  ${style.warn('!')} #${f.index} ${style.bold(f.code)} ${f.message}`);
  } else {
    const problems = problemCount(report.findings);
    printLine(`${style.bad('✖')} ${log}: ${problems} problem(s) in ${report.events} event(s)${anchor}`);
    const listed = report.findings.filter((f) => f.code !== 'FINDINGS_OMITTED');
    const shown = listed.slice(0, 200);
    for (const f of shown) printLine(`  #${f.index} ${style.bold(f.code)} ${style.dim(f.id ?? '-')} ${f.message}`);
    if (listed.length > shown.length)
      printLine(style.dim(`  … ${listed.length - shown.length} more listed; use --json for all`));
    for (const f of report.findings.filter((x) => x.code === 'FINDINGS_OMITTED'))
      printLine(`  #${f.index} ${style.bold(f.code)} ${f.message}`);
  }
  const cp = report.checkpoints;
  if (cp) {
    printLine(
      style.dim(
        `  checkpoints: ${cp.verified} of ${cp.found} verified (${cp.origin ?? 'no origin'}), ` +
          `covering ${cp.coveredEvents} of ${report.events} event(s)`,
      ),
    );
  }
  printLine(style.dim(`  note: ${cp ? CHECKPOINT_FIELDS_NOTE : UNCOVERED_FIELDS_NOTE}`));
  if (!witnessed && (cp || report.anchorPath)) printLine(style.dim(`  limit: ${NO_WITNESS_LIMIT}`));
}

// What a signed state kept beside the log cannot show (docs/threat-model.md).
const NO_WITNESS_LIMIT =
  'without --witness, a log cut back to match an older, genuine anchor or checkpoint file is not detected';

/** The KMS checker and its SDK are loaded only with --kms-verify: offline verification never loads them. */
async function kmsVerifyOptions(
  flag: string | boolean | undefined,
  ctx: CommandContext,
): Promise<Pick<VerifyAuditOptions, 'kmsVerify' | 'checkDeferred'>> {
  if (flag === undefined || flag === false) return {};
  const mode = flag === true ? 'hmac' : flag;
  if (mode !== 'hmac' && mode !== 'all')
    throw new UsageError({ code: 'FLAG_INVALID', message: `--kms-verify "${mode}" is not hmac or all` });
  const { createKmsChecker } = await import('../src/audit/kms-verify.js');
  return { kmsVerify: mode, checkDeferred: createKmsChecker(await ctx.services.kms()) };
}

function parseHmacKeys(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1)
      throw new UsageError({
        code: 'HMAC_KEY_FLAG_INVALID',
        message: `--hmac-key "${pair}" is not KID=FILE`,
        hint: '--hmac-key audit-hmac=.agentkeys/keys/audit-hmac.secret',
      });
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

const percent = (done: number, total: number | undefined) => (total ? ` (${Math.floor((100 * done) / total)}%)` : '');
