// Client mocks, because moto does not model IAM authorization (never AccessDenied) and never
// throttles (aws-and-moto.md §1). They check that errors are classified, never read as "absent".
import { GetUserCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createSetupAws } from '../../../src/aws/setup-api.js';

const iam = mockClient(IAMClient);
const s3 = mockClient(S3Client);
afterEach(() => {
  iam.reset();
  s3.reset();
});

const error = (name: string, status: number) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe('setup error classification', () => {
  const aws = () => createSetupAws({ region: 'us-east-1', retryDelayMs: 0 });

  it('NoSuchEntity is absent; AccessDenied is AWS_ACCESS_DENIED naming the action, never absent', async () => {
    iam.on(GetUserCommand).rejectsOnce(error('NoSuchEntity', 404)).rejectsOnce(error('AccessDenied', 403));
    expect(await aws().getUser('agentkeys-daemon')).toBeUndefined();
    await expect(aws().getUser('agentkeys-daemon')).rejects.toMatchObject({
      code: 'AWS_ACCESS_DENIED',
      message: expect.stringContaining('iam:GetUser on agentkeys-daemon'),
    });
  });

  it('throttling is AWS_THROTTLED, never read as absent (the mock bypasses the SDK retries)', async () => {
    iam.on(GetUserCommand).rejects(error('Throttling', 400));
    await expect(aws().getUser('x')).rejects.toMatchObject({ code: 'AWS_THROTTLED' });
  });

  it('HeadBucket 403 means another account owns the name, not "missing"', async () => {
    s3.on(HeadBucketCommand).rejectsOnce(error('Forbidden', 403)).rejectsOnce(error('NotFound', 404));
    expect(await aws().headBucket('taken')).toBe('forbidden');
    expect(await aws().headBucket('free')).toBe('missing');
  });

  it('eventual consistency is retried by error code (MalformedPolicyDocument), never by message text', async () => {
    iam
      .on(PutRolePolicyCommand)
      .rejectsOnce(error('MalformedPolicyDocument', 400))
      .rejectsOnce(error('MalformedPolicyDocument', 400))
      .resolves({});
    await aws().putRolePolicy('r', 'p', '{}');
    expect(iam.commandCalls(PutRolePolicyCommand)).toHaveLength(3);
    iam.reset();
    // The same words under another code are not an eventual-consistency answer: one call, then the error.
    iam.on(PutRolePolicyCommand).rejects(
      Object.assign(new Error('Invalid principal in policy'), {
        name: 'ValidationError',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await expect(aws().putRolePolicy('r', 'p', '{}')).rejects.toMatchObject({ code: 'AWS_CALL_FAILED' });
    expect(iam.commandCalls(PutRolePolicyCommand)).toHaveLength(1);
  });

  it('gives up after 6 attempts and names the action', async () => {
    iam.on(PutRolePolicyCommand).rejects(error('MalformedPolicyDocument', 400));
    await expect(aws().putRolePolicy('r', 'p', '{}')).rejects.toMatchObject({
      code: 'AWS_CALL_FAILED',
      message: expect.stringContaining('iam:PutRolePolicy on r/p'),
    });
    expect(iam.commandCalls(PutRolePolicyCommand)).toHaveLength(6);
  });
});
