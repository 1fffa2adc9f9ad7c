import {
  S3Client,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutPublicAccessBlockCommand,
  type BucketLocationConstraint,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import type { AwsServiceContext } from './service.js';
import { observeCalls } from './call.js';

export type BucketState = 'exists' | 'missing' | 'forbidden';

export type { LifecycleRule };

/** The S3 calls agentkeys makes, and nothing else. */
export interface S3Api {
  headBucket(name: string): Promise<BucketState>;
  createBucket(name: string): Promise<void>;
  getPublicAccessBlock(name: string): Promise<Record<string, boolean> | undefined>;
  putPublicAccessBlock(name: string): Promise<void>;
  getLifecycle(name: string): Promise<LifecycleRule[] | undefined>;
  putLifecycle(name: string, rules: LifecycleRule[]): Promise<void>;
  getBucketPolicy(name: string): Promise<string | undefined>;
  putBucketPolicy(name: string, policy: string): Promise<void>;
  getBucketEncryption(name: string): Promise<string | undefined>;
  putBucketEncryptionSse(name: string): Promise<void>;
  /** Deletes every object version and delete marker; returns how many. */
  emptyBucket(name: string): Promise<number>;
  countObjectVersions(name: string): Promise<number>;
  deleteBucket(name: string): Promise<void>;
}

export function createS3Api(ctx: AwsServiceContext): S3Api {
  const caller = ctx.caller;
  const s3 = observeCalls(new S3Client(ctx.config), 's3', ctx.onCall);
  return {
    headBucket: (name) =>
      caller.call('s3:HeadBucket', name, async () => {
        try {
          await s3.send(new HeadBucketCommand({ Bucket: name }));
          return 'exists' as const;
        } catch (err) {
          const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          // 404: nobody has it. 403: the name belongs to another account; never "absent".
          if (status === 404 || (err as Error).name === 'NotFound') return 'missing' as const;
          if (status === 403) return 'forbidden' as const;
          throw err;
        }
      }),
    createBucket: (name) =>
      caller.call(
        's3:CreateBucket',
        name,
        async () =>
          void (await s3.send(
            new CreateBucketCommand({
              Bucket: name,
              // us-east-1 takes no LocationConstraint; every other region needs one (setup-steps.md step 7).
              ...(ctx.region === 'us-east-1'
                ? {}
                : { CreateBucketConfiguration: { LocationConstraint: ctx.region as BucketLocationConstraint } }),
            }),
          )),
      ),
    getPublicAccessBlock: (name) =>
      caller.maybe(
        's3:GetPublicAccessBlock',
        name,
        async () =>
          ({
            ...(await s3.send(new GetPublicAccessBlockCommand({ Bucket: name }))).PublicAccessBlockConfiguration,
          }) as Record<string, boolean>,
      ),
    putPublicAccessBlock: (name) =>
      caller.call(
        's3:PutPublicAccessBlock',
        name,
        async () =>
          void (await s3.send(
            new PutPublicAccessBlockCommand({
              Bucket: name,
              PublicAccessBlockConfiguration: {
                BlockPublicAcls: true,
                IgnorePublicAcls: true,
                BlockPublicPolicy: true,
                RestrictPublicBuckets: true,
              },
            }),
          )),
      ),
    getLifecycle: (name) =>
      caller.maybe(
        's3:GetBucketLifecycleConfiguration',
        name,
        async () => (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: name }))).Rules ?? [],
      ),
    putLifecycle: (name, rules) =>
      caller.call(
        's3:PutBucketLifecycleConfiguration',
        name,
        async () =>
          void (await s3.send(
            new PutBucketLifecycleConfigurationCommand({ Bucket: name, LifecycleConfiguration: { Rules: rules } }),
          )),
      ),
    getBucketPolicy: (name) =>
      caller.maybe(
        's3:GetBucketPolicy',
        name,
        async () => (await s3.send(new GetBucketPolicyCommand({ Bucket: name }))).Policy,
      ),
    putBucketPolicy: (name, policy) =>
      caller.eventually(
        's3:PutBucketPolicy',
        name,
        async () => void (await s3.send(new PutBucketPolicyCommand({ Bucket: name, Policy: policy }))),
      ),
    getBucketEncryption: (name) =>
      caller.maybe(
        's3:GetBucketEncryption',
        name,
        async () =>
          (await s3.send(new GetBucketEncryptionCommand({ Bucket: name }))).ServerSideEncryptionConfiguration
            ?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
      ),
    putBucketEncryptionSse: (name) =>
      caller.call(
        's3:PutBucketEncryption',
        name,
        async () =>
          void (await s3.send(
            new PutBucketEncryptionCommand({
              Bucket: name,
              ServerSideEncryptionConfiguration: {
                Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
              },
            }),
          )),
      ),
    emptyBucket: (name) =>
      caller.call('s3:DeleteObjects', name, async () => {
        let deleted = 0;
        for (;;) {
          const page = await s3.send(new ListObjectVersionsCommand({ Bucket: name, MaxKeys: 1000 }));
          const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({
            Key: v.Key!,
            ...(v.VersionId ? { VersionId: v.VersionId } : {}),
          }));
          if (objects.length === 0) return deleted;
          await s3.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: objects, Quiet: true } }));
          deleted += objects.length;
        }
      }),
    countObjectVersions: (name) =>
      caller.call('s3:ListObjectVersions', name, async () => {
        const page = await s3.send(new ListObjectVersionsCommand({ Bucket: name, MaxKeys: 1000 }));
        return (page.Versions?.length ?? 0) + (page.DeleteMarkers?.length ?? 0);
      }),
    deleteBucket: (name) =>
      caller.gone('s3:DeleteBucket', name, async () => void (await s3.send(new DeleteBucketCommand({ Bucket: name })))),
  };
}
