// The resources setup builds, each defined once: the changes that make it as desired and the
// deletion that removes it. Steps compose these, and teardown is derived from the same steps, so
// nothing setup creates can be forgotten by a hand-kept teardown list.
import { rm } from 'node:fs/promises';
import { readProfiles, removeProfile, writeProfile } from './credentials-file.js';
import { samePolicy } from './policy-compare.js';
import {
  blocked,
  change,
  done,
  pending,
  waiting,
  type Change,
  type SetupContext,
  type StepState,
  type TeardownOptions,
} from './step.js';

/** One deletion (a Change, action 'delete'), planned read-only first; applied in reverse step order. */
export type TeardownAction = Change;

/** An inline policy of a user or a role, as the step wants it. */
export interface InlinePolicy {
  name: string;
  document: string;
  detail?: string;
  /** How the plan names it, when not by its policy name. */
  label?: string;
}

/** The put of an inline policy when what exists differs (create when there is none). */
export function inlinePolicyChange(
  current: string | undefined,
  want: InlinePolicy,
  put: () => Promise<unknown>,
): Change[] {
  if (samePolicy(current, want.document)) return [];
  return [change(current ? 'update' : 'create', want.label ?? want.name, put, want.detail)];
}

/** An IAM user with one inline policy and one access key in the 0600 credentials file. */
export function iamUser(ctx: SetupContext, user: string, step: string) {
  const { aws } = ctx;
  return {
    async plan(policy: InlinePolicy): Promise<Change[] | StepState> {
      const exists = (await aws.getUser(user)) !== undefined;
      const changes: Change[] = exists ? [] : [change('create', `IAM user ${user}`, () => aws.createUser(user))];
      const current = exists ? await aws.getUserPolicy(user, policy.name) : undefined;
      changes.push(...inlinePolicyChange(current, policy, () => aws.putUserPolicy(user, policy.name, policy.document)));
      const key = await checkAccessKey(ctx, step, user, exists);
      return Array.isArray(key) ? [...changes, ...key] : key;
    },
    /** Keys, policies, then the user; its profile leaves the credentials file (the keys are dead). */
    async teardown(): Promise<TeardownAction[]> {
      const actions: TeardownAction[] = [];
      if (await aws.getUser(user)) {
        actions.push({
          resource: `IAM user ${user}`,
          action: 'delete',
          apply: async () => {
            for (const k of await aws.listAccessKeys(user)) await aws.deleteAccessKey(user, k.id);
            for (const p of await aws.listUserPolicies(user)) await aws.deleteUserPolicy(user, p);
            for (const arn of await aws.listAttachedUserPolicies(user)) await aws.detachUserPolicy(user, arn);
            await aws.deleteUser(user);
          },
        });
      }
      if ((await readProfiles(ctx.credentialsFile)).has(user)) {
        actions.push({
          resource: `profile [${user}] in ${ctx.credentialsFile}`,
          action: 'delete',
          apply: () => dropProfile(ctx.credentialsFile, user),
        });
      }
      return actions;
    },
  };
}

/** The file goes with its last profile, so a torn-down stack leaves no credentials file behind. */
async function dropProfile(file: string, profile: string): Promise<void> {
  const left = await removeProfile(file, profile);
  if (left === 0) await rm(file, { force: true });
}

/** An IAM role: created with its trust, trust kept as wanted, inline policies put when they drift. */
export function iamRole(ctx: SetupContext, name: string) {
  const { aws } = ctx;
  return {
    read: () => aws.getRole(name),
    create(trust: string, description: string, detail?: string): Change {
      return change('create', `IAM role ${name}`, () => aws.createRole(name, trust, description), detail);
    },
    /** Create when missing, else update the trust when it differs. */
    ensure(role: { trust: string } | undefined, trust: string, description: string, detail?: string): Change[] {
      if (!role) return [this.create(trust, description, detail)];
      return samePolicy(role.trust, trust)
        ? []
        : [change('update', `IAM role ${name} trust`, () => aws.updateTrust(name, trust), detail)];
    },
    async inline(roleExists: boolean, policy: InlinePolicy): Promise<Change[]> {
      const current = roleExists ? await aws.getRolePolicy(name, policy.name) : undefined;
      return inlinePolicyChange(current, policy, () => aws.putRolePolicy(name, policy.name, policy.document));
    },
    /** Inline and attached policies, then the role. */
    async teardown(): Promise<TeardownAction[]> {
      if (!(await aws.getRole(name))) return [];
      return [
        {
          resource: `IAM role ${name}`,
          action: 'delete',
          apply: async () => {
            for (const p of await aws.listRolePolicies(name)) await aws.deleteRolePolicy(name, p);
            for (const arn of await aws.listAttachedRolePolicies(name)) await aws.detachRolePolicy(name, arn);
            await aws.deleteRole(name);
          },
        },
      ];
    },
  };
}

const PUBLIC_ACCESS_BLOCK = [
  'BlockPublicAcls',
  'IgnorePublicAcls',
  'BlockPublicPolicy',
  'RestrictPublicBuckets',
] as const;

/** A private bucket; `forbidden` means another account owns the name. */
export function s3Bucket(ctx: SetupContext, bucket: string) {
  const { aws } = ctx;
  return {
    /** The bucket and its public access block, then the step's own settings (`extra`). */
    async plan(
      extra: (exists: boolean) => Promise<Change[]>,
      opts: { objectLock?: boolean } = {},
    ): Promise<StepState | Change[]> {
      const state = await aws.headBucket(bucket);
      if (state === 'forbidden')
        return blocked(
          `bucket ${bucket} exists in another account (HeadBucket 403)`,
          'bucket names are global: choose another name in the env file',
        );
      const changes: Change[] = [];
      if (state === 'missing') {
        const detail = `in ${ctx.stack.region}${opts.objectLock ? ', Object Lock on' : ''}`;
        changes.push(change('create', `s3://${bucket}`, () => aws.createBucket(bucket, opts), detail));
      }
      const pab = state === 'exists' ? await aws.getPublicAccessBlock(bucket) : undefined;
      if (!pab || !PUBLIC_ACCESS_BLOCK.every((k) => pab[k] === true)) {
        changes.push(
          change('update', `s3://${bucket} public access block`, () => aws.putPublicAccessBlock(bucket), 'all four on'),
        );
      }
      return [...changes, ...(await extra(state === 'exists'))];
    },
    /** Contents first (asked separately when there are any), then the bucket; --keep-data keeps it. */
    async teardown(opts: TeardownOptions): Promise<TeardownAction[]> {
      if (opts.keepData || (await aws.headBucket(bucket)) !== 'exists') return [];
      const objects = await aws.countObjectVersions(bucket);
      const data =
        objects > 0 ? { destroysData: true, detail: `${objects}${objects >= 1000 ? '+' : ''} object version(s)` } : {};
      return [
        {
          resource: `s3://${bucket}`,
          ...data,
          action: 'delete',
          apply: async () => {
            await aws.emptyBucket(bucket);
            await aws.deleteBucket(bucket);
          },
        },
      ];
    },
  };
}

/** An SES identity (a domain with DKIM, or an address): created, then waited on until verified. */
export function sesIdentity(
  ctx: SetupContext,
  identity: string,
  opts: { dkim: boolean; detail: string; waiting: { reason: string; hint: string | (() => Promise<string>) } },
) {
  const { aws } = ctx;
  return {
    async check(): Promise<StepState> {
      const found = await aws.getEmailIdentity(identity);
      if (!found)
        return pending([
          change('create', `SES identity ${identity}`, () => aws.createEmailIdentity(identity, opts.dkim), opts.detail),
        ]);
      if (found.verifiedForSending) return done(`${identity} verified for sending`);
      const hint = opts.waiting.hint;
      return waiting(opts.waiting.reason, typeof hint === 'string' ? hint : await hint());
    },
    async teardown(): Promise<TeardownAction[]> {
      if (!(await aws.getEmailIdentity(identity))) return [];
      return [
        { resource: `SES identity ${identity}`, action: 'delete', apply: () => aws.deleteEmailIdentity(identity) },
      ];
    },
  };
}

/**
 * One access key per user, written to the 0600 credentials file. A key that exists but is not in
 * our file is the operator's (or was lost); it is never silently replaced.
 */
async function checkAccessKey(
  ctx: SetupContext,
  step: string,
  user: string,
  userExists: boolean,
): Promise<Change[] | StepState> {
  const mint = change(
    'create',
    `access key for ${user}`,
    () => createAccessKey(ctx, step, user),
    `into ${ctx.credentialsFile} [${user}]`,
  );
  if (!userExists) return [mint];
  const keys = await ctx.aws.listAccessKeys(user);
  if (keys.length === 0) return [mint];
  const profile = (await readProfiles(ctx.credentialsFile)).get(user);
  if (profile && keys.some((k) => k.id === profile.aws_access_key_id))
    return ctx.rotateAccessKeys?.has(user) ? rotation(ctx, step, user, profile.aws_access_key_id, keys) : [];
  if (keys.length >= 2)
    return blocked(
      `${user} already has 2 access keys (the AWS limit) and neither is in ${ctx.credentialsFile}`,
      `delete one: aws iam delete-access-key --user-name ${user} --access-key-id ${keys[0]!.id}`,
    );
  return []; // the operator holds it elsewhere; re-minting would only add a second live key
}

/**
 * --rotate-access-keys: a second key is made and written where the first was (the credentials file,
 * 0600, atomically), and only then is the old one deactivated and deleted, so there is never a
 * moment with no working key in the file.
 */
function rotation(
  ctx: SetupContext,
  step: string,
  user: string,
  old: string,
  keys: readonly { id: string }[],
): Change[] | StepState {
  const other = keys.find((k) => k.id !== old);
  if (other)
    return blocked(
      `${user} has 2 access keys (the AWS limit): a rotation needs room for the new one`,
      `delete the one not in ${ctx.credentialsFile}: aws iam delete-access-key --user-name ${user} ` +
        `--access-key-id ${other.id}`,
    );
  const rotate = async () => {
    await createAccessKey(ctx, step, user);
    await ctx.aws.deactivateAccessKey(user, old);
    await ctx.aws.deleteAccessKey(user, old);
    ctx.rotateAccessKeys?.delete(user);
  };
  return [
    change(
      'update',
      `access key for ${user}`,
      rotate,
      `a new key into ${ctx.credentialsFile} [${user}], then ${old.slice(0, 8)}… deactivated and deleted`,
    ),
  ];
}

async function createAccessKey(ctx: SetupContext, step: string, user: string): Promise<void> {
  const key = await ctx.aws.createAccessKey(user);
  await writeProfile(ctx.credentialsFile, user, {
    aws_access_key_id: key.id,
    aws_secret_access_key: key.secret,
    region: ctx.stack.region,
  });
  ctx.report({
    type: 'secret-written',
    step,
    file: ctx.credentialsFile,
    profile: user,
    accessKeyId: key.id,
    ...(ctx.showSecret ? { secret: key.secret } : {}),
  });
}
