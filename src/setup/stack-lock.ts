// One operator at a time per stack: setup and teardown hold a lock another laptop or CI sees, an
// object written with If-None-Match: * (S3's conditional write, as Terraform's S3 backend locks)
// in a private bucket of the stack's account. The refusal names the holder and when it started; a
// holder on this machine whose process is gone is stale and taken over; --force-unlock takes any.
import { AgentkeysError } from '../errors.js';
import type { S3LockApi } from '../aws/s3.js';
import { errnoCode } from '../sys/operator-file.js';

export interface LockHolder {
  /** Who: the caller ARN. */
  holder: string;
  host: string;
  pid: number;
  command: string;
  startedAt: string;
}

export interface StackLock {
  /** Deletes the lock object (only ours: a lock force-taken by someone else stays theirs). */
  release(): Promise<void>;
  /** The holder whose lock this one replaced (stale, or --force-unlock). */
  replaced?: LockHolder;
}

/** One bucket per account for both stacks' locks. */
export const lockBucket = (accountId: string) => `agentkeys-locks-${accountId}`;
const lockKey = (stack: string) => `stacks/${stack}.lock`;

export async function acquireStackLock(
  s3: S3LockApi,
  where: { accountId: string; stack: string; rerun: string },
  me: LockHolder,
  opts: { force: boolean; isAlive?: (pid: number) => boolean },
): Promise<StackLock> {
  const bucket = lockBucket(where.accountId);
  const key = lockKey(where.stack);
  const body = `${JSON.stringify(me)}\n`;
  await s3.ensurePrivateBucket(bucket);
  const release = async () => {
    const now = parseHolder(await s3.getObjectTextIfExists(bucket, key));
    if (now && now.pid === me.pid && now.host === me.host && now.startedAt === me.startedAt)
      await s3.deleteObject(bucket, key);
  };
  if ((await s3.putObjectIfAbsent(bucket, key, body)) === 'written') return { release };
  const held = parseHolder(await s3.getObjectTextIfExists(bucket, key));
  // Released between our write and our read: the lock is free, take it the ordinary way.
  if (held === null && (await s3.putObjectIfAbsent(bucket, key, body)) === 'written') return { release };
  const alive = opts.isAlive ?? processAlive;
  const stale = held !== null && held !== undefined && held.host === me.host && !alive(held.pid);
  if (!opts.force && !stale)
    throw new AgentkeysError({
      code: 'STACK_LOCKED',
      message: held
        ? `the ${where.stack} stack is locked by ${held.holder} on ${held.host} (pid ${held.pid}) since ` +
          `${held.startedAt}, running ${held.command}`
        : `the ${where.stack} stack is locked (s3://${bucket}/${key})`,
      hint: `wait for that run to finish; if it died: ${where.rerun} --force-unlock`,
    });
  // Taken over: deleted, then written again under the same condition (a third party racing in wins).
  await s3.deleteObject(bucket, key);
  if ((await s3.putObjectIfAbsent(bucket, key, body)) === 'exists')
    throw new AgentkeysError({
      code: 'STACK_LOCKED',
      message: `another run took the ${where.stack} stack's lock while this one replaced a stale one`,
      hint: `run again: ${where.rerun}`,
    });
  return { release, ...(held ? { replaced: held } : {}) };
}

/** The holder in a lock object; undefined when it is unreadable, null when there is none. */
function parseHolder(text: string | undefined): LockHolder | undefined | null {
  if (text === undefined) return null;
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.holder === 'string' && typeof h.host === 'string' && typeof h.pid === 'number')
      return {
        holder: h.holder,
        host: h.host,
        pid: h.pid,
        command: String(h.command ?? ''),
        startedAt: String(h.startedAt ?? ''),
      };
  } catch {
    // an unreadable lock is still a lock: refused like any other, --force-unlock takes it
  }
  return undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM'; // alive, someone else's
  }
}
