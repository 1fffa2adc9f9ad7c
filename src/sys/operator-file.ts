// Reading a file the operator named, and what a failure says: one place for the "cannot read F:
// ENOENT" errors a dozen commands raise, and for the casts that take an errno code or a message
// out of whatever was thrown.
import { promises as fsp } from 'node:fs';
import { UsageError, type ErrorCode } from '../errors.js';

/** The errno code of a failed system call (ENOENT, EACCES, EISDIR…); undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** An error's message, whatever was thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An error's name (the SDK's exception type), whatever was thrown. */
export function nameOf(err: unknown): string {
  return err instanceof Error ? err.name : '';
}

export interface OperatorFileError {
  /** The code of the usage error (exit 2): KEY_NOT_FOUND, POLICY_NOT_FOUND, … */
  code: ErrorCode;
  /** What the file is, as the message says it: "policy file", "HMAC secret for k1 from". */
  what: string;
  hint?: string;
}

/**
 * Reads a file the operator named; a failure is a usage error that names the file and the errno
 * code (a folder is PATH_IS_DIRECTORY, whatever `code` says).
 */
export async function readOperatorFile(file: string, failure: OperatorFileError): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    const why = errnoCode(err) ?? messageOf(err);
    throw new UsageError({
      code: why === 'EISDIR' ? 'PATH_IS_DIRECTORY' : failure.code,
      message: `cannot read ${failure.what} ${file}: ${why}`,
      ...(failure.hint ? { hint: failure.hint } : {}),
      cause: err,
    });
  }
}

/** readOperatorFile, as UTF-8 text. */
export async function readOperatorText(file: string, failure: OperatorFileError): Promise<string> {
  return (await readOperatorFile(file, failure)).toString('utf8');
}
