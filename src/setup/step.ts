// Setup's steps over the stack's AWS account: their context, what they report, and the engine's
// parts (src/steps/step.ts) under the names the steps use, with Step defaulting to this context.
import type { KmsApi } from '../aws/kms.js';
import type { SetupAws } from '../aws/setup-api.js';
import type { Step as EngineStep, StepState } from '../steps/step.js';
import type { Stack } from '../config/stack.js';

export {
  blocked,
  change,
  done,
  once,
  pending,
  planned,
  rerun,
  waiting,
  type Change,
  type ChangeAction,
  type PlannedChange,
  type StepState,
  type TeardownOptions,
} from '../steps/step.js';

export type Step<C = SetupContext> = EngineStep<C>;

/** Progress the core reports; the listr reporter renders it. Core never prints. */
export type SetupEvent =
  | { type: 'note'; step: string; message: string }
  | { type: 'secret-written'; step: string; file: string; profile: string; accessKeyId: string; secret?: string };

export interface SetupContext {
  stack: Stack;
  aws: SetupAws;
  kms: KmsApi;
  /** Where access keys are written (0600), and the signer registry step 15 publishes into. */
  credentialsFile: string;
  signersPath: string;
  showSecret: boolean;
  /** --yes answers yes; without a TTY the answer is no. */
  confirm(question: string): Promise<boolean>;
  report(event: SetupEvent): void;
  /** GET a URL as JSON (the OIDC discovery probe); injectable because moto has no issuer. */
  fetchJson(url: string): Promise<{ status: number; json?: unknown }>;
  /**
   * --rotate-access-keys: the users whose access key this run replaces (setup's own key, the one in
   * the credentials file); each leaves the set once rotated, so the re-check converges.
   */
  rotateAccessKeys?: Set<string>;
  /** Values this run learned or wrote back (EIP, DATA_ROLE_ARN), fresher than the env files read at start. */
  state: { eip?: string; dataRoleArn?: string; caller?: { account: string; arn: string } };
}

/** What a step that only reports can say: it never has changes and owns nothing to tear down. */
export type Report = Extract<StepState, { status: 'done' | 'blocked' }>;

/** Preflight (tools, env files, caller and zone) and the summary: numbered like steps, but read-only. */
export function reportStep(
  def: Pick<Step, 'num' | 'id' | 'title'> & { report(ctx: SetupContext): Promise<Report> },
): Step {
  return { num: def.num, id: def.id, title: def.title, check: (ctx) => def.report(ctx) };
}
