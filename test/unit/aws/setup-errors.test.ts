// Client mocks, because moto does not model IAM authorization (never AccessDenied) and never
// throttles (aws-and-moto.md §1). They check that errors are classified, never read as "absent".
import { GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
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

const error = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe('setup error classification', () => {
  const aws = () => createSetupAws({ region: 'us-east-1', retryDelayMs: 0 });

  it('NoSuchEntity is absent; AccessDenied is AWS_ACCESS_DENIED naming the action, never absent', async () => {
    iam.on(GetUserCommand).rejectsOnce(error('NoSuchEntity', 404)).rejectsOnce(error('AccessDenied', 403));
    expect(await aws().getUser('agentkeys-daemon')).toBeUndefined();
    await expect(aws().getUser('agentkeys-daemon')).rejects.toMatchObject({ code: 'AWS_ACCESS_DENIED', message: expect.stringContaining('iam:GetUser on agentkeys-daemon') });
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
});
