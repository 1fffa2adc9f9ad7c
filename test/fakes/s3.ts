// Models: buckets by name with public access block, lifecycle rules, policy, default encryption
// and a count of object versions. A name in `foreign` belongs to another account (HeadBucket 403).
// Object Lock as a flag set at creation with a default retention. Leaves out: objects' contents,
// versioning, regions, ACLs, retention on objects.
import type { LifecycleRule, S3Api } from '../../src/aws/s3.js';
import { AgentkeysError } from '../../src/errors.js';
import { conflict } from './account.js';

interface Bucket {
  pab?: Record<string, boolean>;
  lifecycle?: LifecycleRule[];
  policy?: string;
  sse?: string;
  objects: number;
  lock?: { days?: number; mode?: string };
}

export function fakeS3(foreign: ReadonlySet<string> = new Set()): S3Api {
  const buckets = new Map<string, Bucket>();
  const bucket = (name: string) => {
    const b = buckets.get(name);
    if (!b) throw new AgentkeysError({ code: 'AWS_CALL_FAILED', message: `no bucket ${name} (fake NoSuchBucket)` });
    return b;
  };
  return {
    headBucket: async (name) => (foreign.has(name) ? 'forbidden' : buckets.has(name) ? 'exists' : 'missing'),
    createBucket: async (name, opts = {}) => {
      if (foreign.has(name)) throw conflict(`bucket ${name}`);
      // In us-east-1 S3 answers 200 to a create of a bucket the account already owns (moto too;
      // test/integ/fakes-contract.test.ts holds this fake to it), and changes nothing.
      if (buckets.has(name)) return;
      buckets.set(name, { objects: 0, ...(opts.objectLock ? { lock: {} } : {}) });
    },
    getObjectLock: async (name) => buckets.get(name)?.lock,
    putObjectLockRetention: async (name, days) => {
      const b = bucket(name);
      if (!b.lock)
        throw new AgentkeysError({
          code: 'AWS_CALL_FAILED',
          message: `${name} has no Object Lock (fake InvalidBucketState)`,
        });
      b.lock = { mode: 'COMPLIANCE', days };
    },
    getPublicAccessBlock: async (name) => buckets.get(name)?.pab,
    putPublicAccessBlock: async (name) =>
      void (bucket(name).pab = {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      }),
    getLifecycle: async (name) => buckets.get(name)?.lifecycle,
    putLifecycle: async (name, rules) => void (bucket(name).lifecycle = structuredClone(rules)),
    getBucketPolicy: async (name) => buckets.get(name)?.policy,
    putBucketPolicy: async (name, policy) => void (bucket(name).policy = policy),
    getBucketEncryption: async (name) => buckets.get(name)?.sse,
    putBucketEncryptionSse: async (name) => void (bucket(name).sse = 'AES256'),
    emptyBucket: async (name) => {
      const b = buckets.get(name);
      const n = b?.objects ?? 0;
      if (b) b.objects = 0;
      return n;
    },
    countObjectVersions: async (name) => buckets.get(name)?.objects ?? 0,
    getNewestObjectTexts: async () => [], // objects' contents are not modelled
    deleteBucket: async (name) => {
      if ((buckets.get(name)?.objects ?? 0) > 0)
        throw new AgentkeysError({
          code: 'AWS_CALL_FAILED',
          message: `bucket ${name} is not empty (fake BucketNotEmpty)`,
        });
      buckets.delete(name);
    },
  };
}
