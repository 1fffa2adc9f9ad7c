import {
  S3Client,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutPublicAccessBlockCommand,
  type BucketLocationConstraint,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import type { AwsServiceContext } from './service.js';
import { observeCalls } from './call.js';
import { nameOf } from '../sys/operator-file.js';

export type BucketState = 'exists' | 'missing' | 'forbidden';

export type { LifecycleRule };

/** The S3 calls agentkeys makes, and nothing else. */
export interface S3Api {
  headBucket(name: string): Promise<BucketState>;
  /** objectLock: Object Lock on from creation (it can never be turned on later). */
  createBucket(name: string, opts?: { objectLock?: boolean }): Promise<void>;
  /** The default retention of an Object Lock bucket; undefined when Object Lock is off. */
  getObjectLock(name: string): Promise<{ mode?: string; days?: number } | undefined>;
  putObjectLockRetention(name: string, days: number): Promise<void>;
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
  /** The `count` newest objects under a prefix (by LastModified), newest first, each its first maxBytes as text. */
  getNewestObjectTexts(
    bucket: string,
    prefix: string,
    maxBytes: number,
    count: number,
  ): Promise<{ key: string; text: string }[]>;
  deleteBucket(name: string): Promise<void>;
}

/** One version of an object, or a delete marker, as ListObjectVersions gives it. */
export interface ObjectVersion {
  key: string;
  versionId: string;
  deleteMarker: boolean;
}

/** The witness's object calls: write once, list every version, read one, and the bucket's protection. */
export interface S3ObjectApi {
  /** PutObject with If-None-Match: *; 'exists' when the key is taken (S3 answers 412). */
  putObjectIfAbsent(bucket: string, key: string, body: string): Promise<'written' | 'exists'>;
  /** Every version and delete marker under the prefix, overwritten and hidden ones included. */
  listVersions(bucket: string, prefix: string): Promise<ObjectVersion[]>;
  getObjectText(bucket: string, key: string, versionId?: string): Promise<string>;
  /** Versioning status, and Object Lock's default retention (undefined when Object Lock is off). */
  bucketProtection(
    bucket: string,
  ): Promise<{ versioning: string | undefined; lock: { mode?: string; days?: number } | undefined }>;
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
          if (status === 404 || nameOf(err) === 'NotFound') return 'missing' as const;
          if (status === 403) return 'forbidden' as const;
          throw err;
        }
      }),
    createBucket: (name, opts = {}) =>
      caller.call(
        's3:CreateBucket',
        name,
        async () =>
          void (await s3.send(
            new CreateBucketCommand({
              Bucket: name,
              ...(opts.objectLock ? { ObjectLockEnabledForBucket: true } : {}),
              // us-east-1 takes no LocationConstraint; every other region needs one .
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
    getNewestObjectTexts: (bucket, prefix, maxBytes, count) =>
      caller.call('s3:ListObjectsV2', `s3://${bucket}/${prefix}`, async () => {
        // Only the `count` newest are kept while listing: memory does not grow with the bucket.
        const newest: { key: string; at: number }[] = [];
        let token: string | undefined;
        do {
          const page = await s3.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
          );
          for (const o of page.Contents ?? []) {
            if (!o.Key) continue;
            newest.push({ key: o.Key, at: o.LastModified?.getTime() ?? 0 });
            newest.sort((a, b) => b.at - a.at);
            newest.splice(count);
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        const out: { key: string; text: string }[] = [];
        for (const { key } of newest) {
          const obj = await s3.send(
            new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${maxBytes - 1}` }),
          );
          out.push({ key, text: await obj.Body!.transformToString('utf8') });
        }
        return out;
      }),
    getObjectLock: (name) =>
      caller.maybe('s3:GetObjectLockConfiguration', name, async () => {
        const config = (await s3.send(new GetObjectLockConfigurationCommand({ Bucket: name }))).ObjectLockConfiguration;
        if (config?.ObjectLockEnabled !== 'Enabled') return undefined;
        const retention = config.Rule?.DefaultRetention;
        return {
          ...(retention?.Mode ? { mode: retention.Mode } : {}),
          ...(retention?.Days ? { days: retention.Days } : {}),
        };
      }),
    putObjectLockRetention: (name, days) =>
      caller.call('s3:PutObjectLockConfiguration', name, async () => {
        const rule = { DefaultRetention: { Mode: 'COMPLIANCE' as const, Days: days } };
        await s3.send(
          new PutObjectLockConfigurationCommand({
            Bucket: name,
            ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: rule },
          }),
        );
      }),
    deleteBucket: (name) =>
      caller.gone('s3:DeleteBucket', name, async () => void (await s3.send(new DeleteBucketCommand({ Bucket: name })))),
  };
}

export function createS3ObjectApi(ctx: AwsServiceContext): S3ObjectApi {
  const caller = ctx.caller;
  const s3 = observeCalls(new S3Client(ctx.config), 's3', ctx.onCall);
  return {
    putObjectIfAbsent: (bucket, key, body) =>
      caller.call('s3:PutObject', `s3://${bucket}/${key}`, async () => {
        try {
          await s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: body,
              IfNoneMatch: '*',
              ContentType: 'text/plain; charset=utf-8',
            }),
          );
          return 'written' as const;
        } catch (err) {
          // 412 Precondition Failed: the key is taken; 409 ConditionalRequestConflict: being taken now.
          const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          if (status === 412 || status === 409) return 'exists' as const;
          throw err;
        }
      }),
    listVersions: (bucket, prefix) =>
      caller.call('s3:ListObjectVersions', `s3://${bucket}/${prefix}`, async () => {
        const out: ObjectVersion[] = [];
        let keyMarker: string | undefined;
        let versionMarker: string | undefined;
        do {
          const page = await s3.send(
            new ListObjectVersionsCommand({
              Bucket: bucket,
              Prefix: prefix,
              ...(keyMarker ? { KeyMarker: keyMarker } : {}),
              ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
            }),
          );
          for (const v of page.Versions ?? []) out.push({ key: v.Key!, versionId: v.VersionId!, deleteMarker: false });
          for (const m of page.DeleteMarkers ?? [])
            out.push({ key: m.Key!, versionId: m.VersionId!, deleteMarker: true });
          keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
          versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
        } while (keyMarker);
        return out;
      }),
    getObjectText: (bucket, key, versionId) =>
      caller.call('s3:GetObject', `s3://${bucket}/${key}`, async () => {
        const out = await s3.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }),
        );
        return out.Body!.transformToString('utf8');
      }),
    bucketProtection: (bucket) =>
      caller.call('s3:GetBucketVersioning', bucket, async () => {
        const versioning = (await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status;
        let lock: { mode?: string; days?: number } | undefined;
        try {
          const config = (await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket })))
            .ObjectLockConfiguration;
          const retention = config?.Rule?.DefaultRetention;
          if (config?.ObjectLockEnabled === 'Enabled')
            lock = {
              ...(retention?.Mode ? { mode: retention.Mode } : {}),
              ...(retention?.Days !== undefined ? { days: retention.Days } : {}),
            };
        } catch (err) {
          if ((err as { name?: string }).name !== 'ObjectLockConfigurationNotFoundError') throw err;
        }
        return { versioning, lock };
      }),
  };
}

/** The stack lock's object calls (src/setup/stack-lock.ts): a private bucket, write-once, read, delete. */
export interface S3LockApi {
  /** The bucket, created private (public access blocked) when it is missing. */
  ensurePrivateBucket(name: string): Promise<void>;
  putObjectIfAbsent(bucket: string, key: string, body: string): Promise<'written' | 'exists'>;
  getObjectTextIfExists(bucket: string, key: string): Promise<string | undefined>;
  deleteObject(bucket: string, key: string): Promise<void>;
}

export function createS3LockApi(ctx: AwsServiceContext): S3LockApi {
  const buckets = createS3Api(ctx);
  const objects = createS3ObjectApi(ctx);
  const s3 = observeCalls(new S3Client(ctx.config), 's3', ctx.onCall);
  return {
    ensurePrivateBucket: async (name) => {
      if ((await buckets.headBucket(name)) === 'exists') return;
      await buckets.createBucket(name);
      await buckets.putPublicAccessBlock(name);
    },
    putObjectIfAbsent: objects.putObjectIfAbsent,
    getObjectTextIfExists: (bucket, key) =>
      ctx.caller.maybe('s3:GetObject', `s3://${bucket}/${key}`, async () =>
        (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString('utf8'),
      ),
    deleteObject: (bucket, key) =>
      ctx.caller.gone('s3:DeleteObject', `s3://${bucket}/${key}`, () =>
        s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })),
      ),
  };
}
