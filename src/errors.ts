/**
 * One error type for the whole tool. `code` is a stable SCREAMING_SNAKE identifier that scripts
 * and tests match on; `message` names the thing that went wrong; `hint` is the next command to run.
 * Subclasses choose the exit code; only bin/ turns them into a process exit.
 */
import type { ErrorCode } from './error-codes.js';

export type { ErrorCode } from './error-codes.js';
export type ExitCode = 0 | 1 | 2 | 3 | 4 | 5 | 130;

export interface ErrorOptions {
  code: ErrorCode;
  message: string;
  hint?: string;
  cause?: unknown;
  /** Extra lines (for example every problem of an invalid config). */
  details?: readonly string[];
}

export class AgentkeysError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: readonly string[];
  readonly exitCode: ExitCode = 1;

  constructor(opts: ErrorOptions) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.hint = opts.hint;
    this.details = opts.details ?? [];
  }
}

/** Bad flag, bad config, bad input file the operator controls: exit 2. */
export class UsageError extends AgentkeysError {
  override readonly exitCode: ExitCode = 2;
}

/** The evidence does not verify: exit 3. */
export class VerificationError extends AgentkeysError {
  override readonly exitCode: ExitCode = 3;
}

/** A bug in agentkeys itself: exit 1 and ask for a report. */
export class InternalError extends AgentkeysError {}

/** The operator declined (or could not be asked): exit 1 with a notice. */
export class AbortError extends AgentkeysError {}

export function isAgentkeysError(err: unknown): err is AgentkeysError {
  return err instanceof AgentkeysError;
}

/**
 * The one place where an error code fixes its exit code, whichever class threw it: a key that is
 * not there is the operator's input (2) whether it was named local: or file:, and ciphertext that
 * does not authenticate or was bound to another context is evidence that fails to verify (3).
 * Codes not listed take their class's exit code (AgentkeysError 1, UsageError 2, VerificationError 3).
 */
export const EXIT_CODE_BY_ERROR: Readonly<Partial<Record<ErrorCode, ExitCode>>> = {
  KEY_NOT_FOUND: 2,
  KEY_UNREADABLE: 2,
  CIPHERTEXT_TAMPERED: 3,
  CIPHERTEXT_FORMAT_MISMATCH: 2,
  CONTEXT_MISMATCH: 3,
  KEY_NOT_USED_FOR_MESSAGE: 3,
  EVM_SIGNATURE_MISMATCH: 3,
  EVM_SIGNATURE_INVALID: 3,
  CONFIRMATION_REQUIRED: 1,
};

export function exitCodeOf(err: AgentkeysError): ExitCode {
  return EXIT_CODE_BY_ERROR[err.code] ?? err.exitCode;
}
