// One operator at a time (issue 27): setup and teardown hold the stack's lock, an object written
// with If-None-Match: * in agentkeys-locks-<account> (moto models S3's conditional write). A lock
// held by another machine refuses with its holder and start; --force-unlock takes it; a holder on
// this machine whose process is gone is stale and taken over; a finished run leaves no lock.
import { S3 } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createServiceContext } from '../../src/aws/service.js';
import { createS3LockApi } from '../../src/aws/s3.js';
import { acquireStackLock } from '../../src/setup/stack-lock.js';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { seedAccount, stackFiles } from '../helpers/setup-harness.js';
import { hostname } from 'node:os';

const moto = useMoto();
const bucket = 'agentkeys-locks-123456789012';
const key = 'stacks/test.lock';
const s3 = () => new S3({ region: 'us-east-1', forcePathStyle: true });
const lockText = async () =>
  (
    await s3()
      .getObject({ Bucket: bucket, Key: key })
      .catch(() => undefined)
  )?.Body?.transformToString();

describe('the stack lock', () => {
  it("refuses while another machine's run holds it; --force-unlock takes it; a finished run leaves none", async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const env = moto.current.env;
    const setup = (...args: string[]) =>
      runCli(['--json', 'setup', '--test', '--yes', '--to-step', '4', ...args], { cwd: files.cwd, env });
    const first = await setup();
    expect(first.code, first.stderr).toBe(0);
    expect(await lockText()).toBeUndefined(); // released
    const other = {
      holder: 'arn:aws:iam::123456789012:user/ci',
      host: 'ci-runner-7',
      pid: 4242,
      command: 'agentkeys setup',
      startedAt: '2026-12-06T10:00:00.000Z',
    };
    await s3().putObject({ Bucket: bucket, Key: key, Body: JSON.stringify(other) });
    const refused = await setup();
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error).toEqual({
      code: 'STACK_LOCKED',
      message:
        'the test stack is locked by arn:aws:iam::123456789012:user/ci on ci-runner-7 (pid 4242) since ' +
        '2026-12-06T10:00:00.000Z, running agentkeys setup',
      hint: 'wait for that run to finish; if it died: agentkeys setup --test --force-unlock',
    });
    // A plan changes nothing and takes no lock.
    expect((await setup('--plan')).code).toBe(0);
    const taken = await runCli(['setup', '--test', '--yes', '--to-step', '4', '--force-unlock'], {
      cwd: files.cwd,
      env,
    });
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stderr).toContain(
      "took over the test stack's lock of arn:aws:iam::123456789012:user/ci on ci-runner-7",
    );
    expect(await lockText()).toBeUndefined();
    const down = await runCli(['--json', 'teardown', '--test', '--yes'], { cwd: files.cwd, env });
    expect(down.code, down.stderr).toBe(0);
    expect(await lockText()).toBeUndefined();
  }, 120_000);

  it('a holder on this machine whose process is gone is stale: taken over without --force-unlock', async () => {
    const store = createS3LockApi(createServiceContext({ region: 'us-east-1' }));
    const where = { accountId: '123456789012', stack: 'test', rerun: 'agentkeys setup --test' };
    const me = (pid: number) => ({
      holder: 'me',
      host: hostname(),
      pid,
      command: 'agentkeys setup',
      startedAt: `t${pid}`,
    });
    const dead = await acquireStackLock(store, where, me(1111), { force: false });
    expect(dead.replaced).toBeUndefined();
    const alive = (pid: number) => pid !== 1111;
    const next = await acquireStackLock(store, where, me(2222), { force: false, isAlive: alive });
    expect(next.replaced).toMatchObject({ pid: 1111 });
    // The dead run's release must not delete the lock that is now someone else's.
    await dead.release();
    expect(JSON.parse((await lockText())!).pid).toBe(2222);
    await expect(acquireStackLock(store, where, me(3333), { force: false, isAlive: () => true })).rejects.toMatchObject(
      {
        code: 'STACK_LOCKED',
      },
    );
    await next.release();
    expect(await lockText()).toBeUndefined();
  });
});
