import type { NewEvent } from '../src/audit/record.js';
import { requireLog } from '../src/config/load.js';
import {
  assertAgentId,
  planStep,
  runStep,
  type RunbookAction,
  type RunbookChange,
} from '../src/db/agentidp-runbook.js';
import { redactUrl } from '../src/db/pg.js';
import { AgentkeysError, type ExitCode } from '../src/errors.js';
import { messageOf } from '../src/sys/operator-file.js';
import type { AuditSigner } from '../src/signing/signer.js';
import { openStore } from '../src/store/store.js';
import { appendSigned } from './audit-writer.js';
import { createContext, writerStoreOptions, type CommandContext, type GlobalOptions } from './context.js';
import { connectAgentidp, requireDatabaseUrl } from './db-url.js';
import { openSigner, printKmsCalls, withKmsTrail } from './kms-support.js';
import { printJson, printLine, printable, style } from './ui/format.js';
import { confirm } from './ui/prompt.js';

export interface AgentidpOptions extends GlobalOptions {
  databaseUrl?: string;
  log?: string;
  key?: string;
  actor?: string;
  reason?: string;
  plan?: boolean;
  yes?: boolean;
}

const STEPS: Record<RunbookAction, { event: string; question: string; done: (rows: number) => string }> = {
  'suspend-agent': {
    event: 'agentidp.agent.suspended',
    question: 'Suspend AgentIdP agent',
    done: () => 'suspended',
  },
  'revoke-credentials': {
    event: 'agentidp.credentials.revoked',
    question: 'Revoke every live credential of AgentIdP agent',
    done: (rows) => `${rows} credential(s) revoked`,
  },
};

export const runSuspendAgent = (id: string, options: AgentidpOptions) => runAgentidpStep('suspend-agent', id, options);
export const runRevokeCredentials = (id: string, options: AgentidpOptions) =>
  runAgentidpStep('revoke-credentials', id, options);

/** One runbook step (src/db/agentidp-runbook.ts), signed into the audit chain before it commits. */
async function runAgentidpStep(action: RunbookAction, agentId: string, options: AgentidpOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options }, { keyIsSigningKey: true });
  assertAgentId(agentId);
  const url = requireDatabaseUrl(ctx, `agentidp ${action}`, "(AgentIdP's database)");
  const step = STEPS[action];
  if (options.plan) return planOnly(ctx, url, action, agentId);
  const log = requireLog(ctx.config);
  await confirm(ctx, `${step.question} ${agentId} in ${redactUrl(url)}?`, '--yes', options.yes === true);
  return withKmsTrail(ctx, async (): Promise<ExitCode> => {
    const signer = await openSigner(ctx); // before any lock is taken: a bad key changes nothing
    const client = await connectAgentidp(ctx, url);
    try {
      const run: StepRun = { action, agentId, url, log, signer, options };
      const result = await runStep(client, action, agentId, {
        record: (change, applied) => record(ctx, run, eventOf(run, change, applied)),
        commitFailed: (err) => recordRollback(ctx, run, err),
      });
      printKmsCalls(ctx);
      printResult(ctx, { ...result, recorded: result.applied > 0 }, log);
      return 0;
    } finally {
      await client.end().catch(() => undefined);
    }
  });
}

interface StepRun {
  action: RunbookAction;
  agentId: string;
  url: string;
  log: string;
  signer: AuditSigner;
  options: AgentidpOptions;
}

function eventOf(run: StepRun, change: RunbookChange, applied: number): NewEvent {
  return {
    event_type: STEPS[run.action].event,
    actor_id: run.options.actor ?? null,
    payload: {
      agent_id: run.agentId,
      database: redactUrl(run.url),
      table: change.table,
      rows: applied,
      before: change.before,
      ...(run.options.reason ? { reason: run.options.reason } : {}),
    },
  };
}

async function record(ctx: CommandContext, run: StepRun, event: NewEvent): Promise<void> {
  const store = openStore(run.log, writerStoreOptions(ctx));
  try {
    await appendSigned(ctx, store, run.signer, [event]);
  } catch (err) {
    throw new AgentkeysError({
      code: 'AGENTIDP_CHANGE_NOT_RECORDED',
      message:
        `${run.action} ${run.agentId} could not be recorded in ${redactUrl(run.log)}: ` +
        `${messageOf(err)}; nothing was changed`,
      hint: 'fix the audit log (agentkeys verify-audit --log LOG) and run the step again',
      cause: err,
    });
  } finally {
    await store.close();
  }
}

/** The chain says it happened but COMMIT failed: a second event says it did not. */
function recordRollback(ctx: CommandContext, run: StepRun, err: unknown): Promise<string> {
  const event: NewEvent = {
    event_type: 'agentidp.change.rolled_back',
    actor_id: run.options.actor ?? null,
    payload: { action: run.action, agent_id: run.agentId, error: messageOf(err) },
  };
  return record(ctx, run, event).then(
    () => 'a rolled_back event in the chain says so',
    () => 'and the rolled_back event could not be written either',
  );
}

async function planOnly(ctx: CommandContext, url: string, action: RunbookAction, agentId: string): Promise<ExitCode> {
  const client = await connectAgentidp(ctx, url);
  try {
    const change = await planStep(client, action, agentId);
    if (ctx.out.json)
      printJson({ ok: true, action, agent: agentId, table: change.table, rows: change.rows, applied: false });
    else if (change.rows === 0) printLine(`${style.ok('✔')} ${printable(agentId)}: nothing to do (${change.table})`);
    else
      printLine(`  ${style.warn('~')} would change ${change.rows} row(s) of ${change.table} for ${printable(agentId)}`);
    return change.rows > 0 ? 4 : 0;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function printResult(
  ctx: CommandContext,
  r: { change: RunbookChange; applied: number; recorded: boolean },
  log: string,
): void {
  const { change } = r;
  if (ctx.out.json) {
    printJson({
      ok: true,
      action: change.action,
      agent: change.agentId,
      table: change.table,
      rows: r.applied,
      before: change.before,
      recorded: r.recorded ? redactUrl(log) : null,
    });
    return;
  }
  const id = printable(change.agentId);
  if (r.applied === 0) {
    printLine(`${style.ok('✔')} ${id}: already done, nothing changed (${change.table})`);
    return;
  }
  const what = STEPS[change.action].done(r.applied);
  printLine(`${style.ok('✔')} ${id}: ${what} (${change.table}); recorded in ${redactUrl(log)}`);
}
