// The checkpoint witness against moto over HTTP: setup's step 19 makes an Object Lock bucket in
// compliance mode; sign --witness writes every checkpoint there once; a writer who rewrites the
// log and its checkpoint file is still caught by verify-audit --witness.
// moto deviations met here: none found for Object Lock's default retention, If-None-Match: * on
// PutObject (412) and the compliance-mode refusal to delete a locked version (moto 5.2.1 enforces
// both, as AWS documents); moto does not model the bucket owner's IAM, so "even root" is not tested.
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { resetMoto, useMoto } from '../helpers/moto.js';
import { seedAccount, stackFiles } from '../helpers/setup-harness.js';

const moto = useMoto();
beforeEach(async () => resetMoto(moto.current));
const BUCKET = 'agentkeys-witness-test-123456789012';
const WITNESS = `s3://${BUCKET}/audit`;
const events = (n: number, from = 1) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ event_type: 't', actor_id: 'a', payload: { n: from + i } }),
  ).join('\n');

/** sign in checkpoint mode (every 10) with the witness, as each test's honest writer does. */
const signWitnessed = (
  cwd: string,
  env: Record<string, string>,
  input: string,
  extra: string[] = [],
  witness = WITNESS,
) =>
  runCli(
    [
      ...extra,
      'sign',
      '--log',
      'a.jsonl',
      '--key',
      'local:audit-1',
      '--batch',
      '--checkpoint-every',
      '10',
      '--witness',
      witness,
    ],
    { cwd, env, input },
  );

async function witnessedLog() {
  const { zoneId } = await seedAccount();
  const files = await stackFiles(zoneId, { test: true });
  const env = moto.current.env;
  const cwd = files.cwd;
  const step = await runCli(['--json', 'setup', '--test', '--only-step', 'witness-bucket'], { cwd, env });
  expect(step.code, step.stderr).toBe(0);
  await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'audit-1'], { cwd, env });
  const signed = await signWitnessed(cwd, env, events(25), ['--json']);
  expect(signed.code, signed.stderr).toBe(0);
  return { cwd, env, signed: JSON.parse(signed.stdout), step: JSON.parse(step.stdout) };
}

const verify = async (cwd: string, env: Record<string, string>) => {
  const r = await runCli(['--json', 'verify-audit', '--log', 'a.jsonl', '--witness', WITNESS], { cwd, env });
  return { code: r.code, out: JSON.parse(r.stdout) };
};
const s3 = () => new S3Client({ region: 'us-east-1' });

describe('the checkpoint witness', () => {
  it('step 19 makes a compliance-mode Object Lock bucket; a second run changes nothing', async () => {
    const { cwd, env, step } = await witnessedLog();
    expect(step.steps[0]).toMatchObject({ id: 'witness-bucket', status: 'done' });
    const lock = await s3().send(new GetObjectLockConfigurationCommand({ Bucket: BUCKET }));
    expect(lock.ObjectLockConfiguration).toMatchObject({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } },
    });
    const again = JSON.parse((await runCli(['--json', 'setup', '--test', '--only-step', '19'], { cwd, env })).stdout);
    expect(again.calls.mutating).toBe(0);
  });

  it('every checkpoint is witnessed once; verify --witness passes, and catches a rewritten log and checkpoint file', async () => {
    const { cwd, env, signed } = await witnessedLog();
    expect(signed.witnessed).toHaveLength(3);
    expect((await verify(cwd, env)).code).toBe(0);
    // The writer cuts the tail and rewrites its own checkpoint file to match: locally consistent.
    const log = path.join(cwd, 'a.jsonl');
    writeFileSync(log, `${readFileSync(log, 'utf8').trimEnd().split('\n').slice(0, 18).join('\n')}\n`);
    writeFileSync(`${log}.checkpoints.jsonl`, '');
    // Only a key holder can vouch for the cut log, and only on the record (--adopt).
    const adopt = await runCli(['audit', 'checkpoint', '--log', 'a.jsonl', '--key', 'local:audit-1', '--adopt'], {
      cwd,
      env,
    });
    expect(adopt.code, adopt.stderr).toBe(0);
    const local = await runCli(['--json', 'verify-audit', '--log', 'a.jsonl'], { cwd, env });
    expect(local.code).toBe(0); // without the witness, only the adoption shows
    expect(JSON.parse(local.stdout).findings.map((f: { code: string }) => f.code)).toEqual(['ADOPTED']);
    const witnessed = await verify(cwd, env);
    expect(witnessed.code).toBe(3);
    expect(witnessed.out.findings).toContainEqual(expect.objectContaining({ code: 'TRUNCATED', index: 19 }));
  });

  it('a history rewritten below the witness is refused before anything is signed; a locked version cannot be deleted', async () => {
    const { cwd, env, signed } = await witnessedLog();
    const log = path.join(cwd, 'a.jsonl');
    // Rewrite history below the witnessed size and try to witness the forged checkpoints.
    const rows = readFileSync(log, 'utf8').trimEnd().split('\n');
    writeFileSync(log, `${rows.map((l, i) => (i === 3 ? l.replace('"n":4', '"n":44') : l)).join('\n')}\n`);
    writeFileSync(`${log}.checkpoints.jsonl`, '');
    // Re-signing the rewritten log: the writer proves it against the witness first, and refuses.
    const forged = await runCli(
      ['--json', 'audit', 'checkpoint', '--log', 'a.jsonl', '--key', 'local:audit-1', '--adopt', '--witness', WITNESS],
      { cwd, env },
    );
    expect({ code: forged.code, error: JSON.parse(forged.stdout).error.code }).toEqual({
      code: 3,
      error: 'LOG_DIVERGED',
    });
    // Straight to S3: If-None-Match refuses, and the compliance lock keeps the version.
    const key = `audit/${encodeURIComponent(signed.checkpoints.origin)}/0000000000000010.checkpoint`;
    await expect(
      s3().send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x', IfNoneMatch: '*' })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    const versions = await s3().send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: key }));
    await expect(
      s3().send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key, VersionId: versions.Versions![0]!.VersionId! })),
    ).rejects.toBeDefined();
    expect((await verify(cwd, env)).code).toBe(3);
  });

  // The attacker below holds the writer's rights on the witness (s3:PutObject, and here DELETE
  // without a version id too) and on the log and its checkpoint file, but no signing key.
  const cutAndForget = (cwd: string, keep: number) => {
    const log = path.join(cwd, 'a.jsonl');
    writeFileSync(log, `${readFileSync(log, 'utf8').trimEnd().split('\n').slice(0, keep).join('\n')}\n`);
    writeFileSync(`${log}.checkpoints.jsonl`, '');
  };
  // A new log's origin comes from its genesis event: agentkeys.local/a.jsonl-<8 hex>.
  let folder = '';
  const keyAt = (size: number) => `${folder}${String(size).padStart(16, '0')}.checkpoint`;
  const noteAt = async (size: number) =>
    (await s3().send(new GetObjectCommand({ Bucket: BUCKET, Key: keyAt(size) }))).Body!.transformToString('utf8');
  const witnessedLogIn = async () => {
    const made = await witnessedLog();
    expect(made.signed.checkpoints.origin).toMatch(/^agentkeys\.local\/a\.jsonl-[0-9a-f]{8}$/);
    folder = `audit/${encodeURIComponent(made.signed.checkpoints.origin)}/`;
    return made;
  };

  it('an old note copied to a higher key: the key is a finding, and every witnessed tree is still held to the log', async () => {
    const { cwd, env } = await witnessedLogIn();
    await s3().send(new PutObjectCommand({ Bucket: BUCKET, Key: keyAt(9999), Body: await noteAt(10) }));
    cutAndForget(cwd, 12);
    const v = await verify(cwd, env);
    expect(v.code).toBe(3);
    expect(v.out.findings).toContainEqual(expect.objectContaining({ code: 'WITNESS_KEY_MISMATCH' }));
    expect(v.out.findings).toContainEqual(expect.objectContaining({ code: 'TRUNCATED', index: 13 }));
  });

  it('the newest key overwritten with an old note, or hidden behind a delete marker: every version is still read', async () => {
    const { cwd, env } = await witnessedLogIn();
    await s3().send(new PutObjectCommand({ Bucket: BUCKET, Key: keyAt(25), Body: await noteAt(10) }));
    await s3().send(new DeleteObjectCommand({ Bucket: BUCKET, Key: keyAt(20) }));
    cutAndForget(cwd, 15);
    const v = await verify(cwd, env);
    expect(v.code).toBe(3);
    expect(v.out.findings).toContainEqual(expect.objectContaining({ code: 'TRUNCATED', index: 16 }));
    expect(v.out.witnessed.map((w: { size: number }) => w.size)).toEqual([10, 20, 25]);
  });

  it('a cut log grown past the cut by an honest writer: the older witnessed trees catch it; a witnessing writer refuses', async () => {
    const { cwd, env } = await witnessedLogIn();
    cutAndForget(cwd, 5);
    const refused = await signWitnessed(cwd, env, events(30, 100));
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('LOG_DIVERGED');
    const grown = await runCli(
      ['sign', '--log', 'a.jsonl', '--key', 'local:audit-1', '--batch', '--checkpoint-every', '10'],
      { cwd, env, input: events(30, 100) },
    );
    expect(grown.code, grown.stderr).toBe(0);
    const v = await verify(cwd, env);
    expect(v.code).toBe(3);
    expect(
      v.out.findings.filter((f: { code: string }) => f.code === 'CHECKPOINT_ROOT_MISMATCH').length,
    ).toBeGreaterThan(0);
  });

  it('sign --witness refuses a bucket without versioning and compliance-mode Object Lock', async () => {
    const { cwd, env } = await witnessedLogIn();
    await s3().send(new CreateBucketCommand({ Bucket: 'plain-bucket-123' }));
    const r = await signWitnessed(cwd, env, events(1, 26), [], 's3://plain-bucket-123/audit');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('WITNESS_BUCKET_UNPROTECTED');
    expect(readFileSync(path.join(cwd, 'a.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(25);
  });

  it('per-row: each anchor is witnessed; a log cut back to an older genuine anchor is caught, and the next writer refuses', async () => {
    const { cwd, env } = await witnessedLog();
    const rowSign = (input: string) =>
      runCli(['--json', 'sign', '--log', 'r.jsonl', '--key', 'local:audit-1', '--batch', '--witness', WITNESS], {
        cwd,
        env,
        input,
      });
    const first = await rowSign(events(3));
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).witnessed[0]).toMatch(/r\.jsonl-[0-9a-f]{8}\/0000000000000003\.anchor$/);
    const log = path.join(cwd, 'r.jsonl');
    const anchorAt3 = readFileSync(`${log}.anchor.json`, 'utf8');
    expect((await rowSign(events(2, 4))).code).toBe(0);
    // The attacker cuts the log back to 3 events and restores the genuine anchor of that moment.
    writeFileSync(log, `${readFileSync(log, 'utf8').trimEnd().split('\n').slice(0, 3).join('\n')}\n`);
    writeFileSync(`${log}.anchor.json`, anchorAt3);
    const local = await runCli(['verify-audit', '--log', 'r.jsonl'], { cwd, env });
    expect(local.code).toBe(0); // without the witness: not detectable, and verify-audit says so
    expect(local.stdout).toContain('without --witness');
    const witnessed = await runCli(['--json', 'verify-audit', '--log', 'r.jsonl', '--witness', WITNESS], { cwd, env });
    expect(witnessed.code, witnessed.stdout).toBe(3);
    expect(JSON.parse(witnessed.stdout).findings).toContainEqual(expect.objectContaining({ code: 'TRUNCATED' }));
    const next = await rowSign(events(1, 6));
    expect(next.code, next.stdout + next.stderr).toBe(3);
    expect(next.stderr).toContain('the newest anchor its witness holds');
  });
});
