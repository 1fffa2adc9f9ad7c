import type { SetupContext, Change, StepState } from '../step.js';
import { blocked, change, done, pending } from '../step.js';
import { readProfiles, writeProfile } from '../credentials-file.js';
import type { Phase } from '../policies.js';

/** Federated once the data role trusts the stack's OIDC provider (the oidc step made the swap). */
export async function currentPhase(ctx: SetupContext): Promise<Phase> {
  return phaseOf(ctx, await ctx.aws.getRole(ctx.stack.dataRole));
}

/** The phase from a data role already read, so a step that needs the role too reads it once. */
export function phaseOf(ctx: SetupContext, dataRole: { trust: string } | undefined): Phase {
  return dataRole?.trust.includes(ctx.stack.oidcProviderArn) && dataRole.trust.includes('Federated') ? 'federated' : 'static';
}

/** A bucket that exists, blocks public access; `forbidden` means another account owns the name. */
export async function bucketBaseline(ctx: SetupContext, bucket: string, extra: (exists: boolean) => Promise<Change[]>): Promise<StepState | Change[]> {
  const state = await ctx.aws.headBucket(bucket);
  if (state === 'forbidden') return blocked(`bucket ${bucket} exists in another account (HeadBucket 403)`, 'bucket names are global: choose another name in the env file');
  const changes: Change[] = [];
  if (state === 'missing') changes.push(change('create', `s3://${bucket}`, () => ctx.aws.createBucket(bucket), `in ${ctx.stack.region}`));
  const pab = state === 'exists' ? await ctx.aws.getPublicAccessBlock(bucket) : undefined;
  if (!pab || !['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'].every((k) => pab[k] === true)) {
    changes.push(change('update', `s3://${bucket} public access block`, () => ctx.aws.putPublicAccessBlock(bucket), 'all four on'));
  }
  return [...changes, ...(await extra(state === 'exists'))];
}

/** An IAM user, created when missing. */
export function userChange(ctx: SetupContext, user: string): Change {
  return change('create', `IAM user ${user}`, () => ctx.aws.createUser(user));
}

/**
 * One access key per user, written to the 0600 credentials file. A key that exists but is not in
 * our file is the operator's (or was lost); it is never silently replaced.
 */
export async function checkAccessKey(ctx: SetupContext, step: string, user: string, userExists: boolean): Promise<Change[] | StepState> {
  const mint = change('create', `access key for ${user}`, () => createAccessKey(ctx, step, user), `into ${ctx.credentialsFile} [${user}]`);
  if (!userExists) return [mint];
  const keys = await ctx.aws.listAccessKeys(user);
  if (keys.length === 0) return [mint];
  const profile = (await readProfiles(ctx.credentialsFile)).get(user);
  if (profile && keys.some((k) => k.id === profile.aws_access_key_id)) return [];
  if (keys.length >= 2) return blocked(`${user} already has 2 access keys (the AWS limit) and neither is in ${ctx.credentialsFile}`, `delete one: aws iam delete-access-key --user-name ${user} --access-key-id ${keys[0]!.id}`);
  return []; // the operator holds it elsewhere; re-minting would only add a second live key
}

export async function createAccessKey(ctx: SetupContext, step: string, user: string): Promise<void> {
  const key = await ctx.aws.createAccessKey(user);
  await writeProfile(ctx.credentialsFile, user, { aws_access_key_id: key.id, aws_secret_access_key: key.secret, region: ctx.stack.region });
  ctx.report({ type: 'secret-written', step, file: ctx.credentialsFile, profile: user, accessKeyId: key.id, ...(ctx.showSecret ? { secret: key.secret } : {}) });
}

export function toState(result: StepState | Change[], summary: string): StepState {
  if (!Array.isArray(result)) return result;
  return result.length === 0 ? done(summary) : pending(result);
}
