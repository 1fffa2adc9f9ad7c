// The doctor's vocabulary: a check is read-only, says ok / warn / fail / skip with one line of
// detail, and for everything that is not ok, the exact command that fixes it.
import type { RotationPolicy } from '../signing/kms-keys.js';
import type { AgentkeysConfig } from '../config/load.js';
import type { AgentkeysError } from '../errors.js';
import { rerun, type SetupContext } from '../setup/step.js';
import type { AuditSigner } from '../signing/signer.js';
import type { HttpProbe } from './http.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Outcome {
  status: CheckStatus;
  detail: string;
  fix?: string;
  /** Numbers the check measured, for `doctor --prometheus` (src/doctor/metrics.ts). */
  metrics?: Metric[];
}

/** One gauge sample: a name from METRIC_HELP, its labels, its value. */
export interface Metric {
  name: string;
  labels?: Record<string, string>;
  value: number;
}

/** The outcome with the measured numbers attached. */
export const measured = (outcome: Outcome, metrics: Metric[]): Outcome => ({ ...outcome, metrics });

export interface CheckRecord extends Outcome {
  id: string;
  group: string;
  title: string;
  durationMs: number;
}

/** The AgentIdP deployment doctor looks at (--agentidp): its env file's values, and where it answers. */
export interface AgentidpTarget {
  file: string;
  env: Readonly<Record<string, string>>;
  url?: string;
}

export interface DoctorContext {
  /** The stack's clients and names; absent when its env files do not load (stackError says why). */
  setup?: SetupContext;
  stackError?: AgentkeysError;
  config: AgentkeysConfig;
  http: HttpProbe;
  /** Opens a KMS signer (the CI guard); injected so the checks stay free of the SDK. */
  openKmsSigner?: (keyRef: string, kid?: string) => Promise<AuditSigner>;
  /** The caller, once the credentials check has run. */
  caller?: { account: string; arn: string };
  now: Date;
  /** doctor --agentidp ENVFILE [--agentidp-url URL]: the AgentIdP deployment to look at. */
  agentidp?: AgentidpTarget;
  /** Seed 001's rotation policy options (--interval-days, --max-age-days); default 90 / 365. */
  rotationPolicy?: RotationPolicy;
}

export interface DoctorCheck {
  id: string;
  group: string;
  title: string;
  /** Checks that must be ok (or warn) first; otherwise this one is skipped, naming them. */
  needs?: string[];
  run(ctx: DoctorContext): Promise<Outcome>;
}

export const ok = (detail: string): Outcome => ({ status: 'ok', detail });
export const warn = (detail: string, fix?: string): Outcome => ({ status: 'warn', detail, ...(fix ? { fix } : {}) });
export const fail = (detail: string, fix: string): Outcome => ({ status: 'fail', detail, fix });
export const skip = (detail: string): Outcome => ({ status: 'skip', detail });

/** The stack's setup context, or the reason the stack checks cannot run. */
export function stackOf(ctx: DoctorContext): SetupContext {
  if (!ctx.setup) throw new Error('doctor: a stack check ran without a stack (its needs are wrong)');
  return ctx.setup;
}

/** `agentkeys setup [--test] --only-step S` (the sandbox's own command there), for fixes. */
export function setupFix(ctx: DoctorContext, step: string, extra = ''): string {
  return `${rerun(ctx.setup ?? { stack: { name: 'prod' } }, step)}${extra}`;
}

const memos = new WeakMap<DoctorContext, Map<string, Promise<unknown>>>();

/**
 * One fetch per run, however many checks read it (the discovery document, a certificate): the
 * first caller starts it, the rest share its promise.
 */
export function memo<T>(ctx: DoctorContext, key: string, fn: () => Promise<T>): Promise<T> {
  let map = memos.get(ctx);
  if (!map) memos.set(ctx, (map = new Map()));
  let p = map.get(key) as Promise<T> | undefined;
  if (!p) map.set(key, (p = fn()));
  return p;
}
