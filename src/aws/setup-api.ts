import { EC2Client, DescribeInstancesCommand, DescribeAddressesCommand, AllocateAddressCommand, CreateTagsCommand, AssociateAddressCommand, DisassociateAddressCommand, ReleaseAddressCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import {
  IAMClient, GetUserCommand, CreateUserCommand, DeleteUserCommand, GetUserPolicyCommand, PutUserPolicyCommand, DeleteUserPolicyCommand, ListUserPoliciesCommand,
  ListAccessKeysCommand, CreateAccessKeyCommand, DeleteAccessKeyCommand, GetRoleCommand, CreateRoleCommand, UpdateAssumeRolePolicyCommand, GetRolePolicyCommand,
  PutRolePolicyCommand, DeleteRolePolicyCommand, ListRolePoliciesCommand, ListAttachedRolePoliciesCommand, DetachRolePolicyCommand, DeleteRoleCommand,
  GetOpenIDConnectProviderCommand, CreateOpenIDConnectProviderCommand, AddClientIDToOpenIDConnectProviderCommand, DeleteOpenIDConnectProviderCommand,
  ListAttachedUserPoliciesCommand, DetachUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { Route53Client, GetHostedZoneCommand, ListResourceRecordSetsCommand, ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, type ResourceRecordSet, type Change } from '@aws-sdk/client-route-53';
import {
  S3Client, HeadBucketCommand, CreateBucketCommand, GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand, GetBucketPolicyCommand, PutBucketPolicyCommand, GetBucketEncryptionCommand, PutBucketEncryptionCommand,
  ListObjectVersionsCommand, DeleteObjectsCommand, DeleteBucketCommand, type BucketLocationConstraint, type LifecycleRule,
} from '@aws-sdk/client-s3';
import { SESv2Client, GetEmailIdentityCommand, CreateEmailIdentityCommand, DeleteEmailIdentityCommand } from '@aws-sdk/client-sesv2';
import {
  SESClient, DescribeReceiptRuleSetCommand, CreateReceiptRuleSetCommand, DescribeReceiptRuleCommand, CreateReceiptRuleCommand, UpdateReceiptRuleCommand,
  DeleteReceiptRuleCommand, DescribeActiveReceiptRuleSetCommand, SetActiveReceiptRuleSetCommand, DeleteReceiptRuleSetCommand, type ReceiptRule,
} from '@aws-sdk/client-ses';
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { credentialProvider, type AwsAuthOptions } from './credentials.js';
import { awsError } from './errors.js';

export type { ResourceRecordSet, Change, LifecycleRule, ReceiptRule };

export interface Address {
  allocationId: string;
  publicIp: string;
  instanceId?: string;
  associationId?: string;
  tags: Record<string, string>;
}

export type BucketState = 'exists' | 'missing' | 'forbidden';

/** Every AWS call `setup`, `teardown` and `--sandbox` make, and nothing else. */
export interface SetupAws {
  callerIdentity(): Promise<{ account: string; arn: string }>;
  // Route 53
  getHostedZone(id: string): Promise<{ name: string } | undefined>;
  listRecordSets(zoneId: string): Promise<ResourceRecordSet[]>;
  changeRecordSets(zoneId: string, changes: Change[], comment: string): Promise<void>;
  createHostedZone(name: string): Promise<string>;
  // EC2
  describeInstance(id: string): Promise<{ publicIp?: string; state?: string } | undefined>;
  runInstance(): Promise<string>;
  addressesByTag(name: string): Promise<Address[]>;
  addressByIp(ip: string): Promise<Address | undefined>;
  allocateAddress(tagName: string): Promise<Address>;
  tagResource(id: string, tags: Record<string, string>): Promise<void>;
  associateAddress(allocationId: string, instanceId: string): Promise<void>;
  disassociateAddress(associationId: string): Promise<void>;
  releaseAddress(allocationId: string): Promise<void>;
  // S3
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
  // SES
  getEmailIdentity(name: string): Promise<{ verifiedForSending: boolean; dkimTokens: string[] } | undefined>;
  createEmailIdentity(name: string, dkim: boolean): Promise<void>;
  deleteEmailIdentity(name: string): Promise<void>;
  describeRuleSet(name: string): Promise<string[] | undefined>;
  createRuleSet(name: string): Promise<void>;
  describeRule(set: string, rule: string): Promise<ReceiptRule | undefined>;
  createRule(set: string, rule: ReceiptRule): Promise<void>;
  updateRule(set: string, rule: ReceiptRule): Promise<void>;
  deleteRule(set: string, rule: string): Promise<void>;
  activeRuleSet(): Promise<string | undefined>;
  setActiveRuleSet(name: string | undefined): Promise<void>;
  deleteRuleSet(name: string): Promise<void>;
  // IAM (documents come back URL-decoded)
  getUser(name: string): Promise<{ arn: string } | undefined>;
  createUser(name: string): Promise<void>;
  deleteUser(name: string): Promise<void>;
  getUserPolicy(user: string, policy: string): Promise<string | undefined>;
  putUserPolicy(user: string, policy: string, doc: string): Promise<void>;
  deleteUserPolicy(user: string, policy: string): Promise<void>;
  listUserPolicies(user: string): Promise<string[]>;
  listAttachedUserPolicies(user: string): Promise<string[]>;
  detachUserPolicy(user: string, arn: string): Promise<void>;
  listAccessKeys(user: string): Promise<{ id: string; status: string }[]>;
  createAccessKey(user: string): Promise<{ id: string; secret: string }>;
  deleteAccessKey(user: string, id: string): Promise<void>;
  getRole(name: string): Promise<{ arn: string; trust: string } | undefined>;
  createRole(name: string, trust: string, description: string): Promise<string>;
  updateTrust(name: string, trust: string): Promise<void>;
  getRolePolicy(role: string, policy: string): Promise<string | undefined>;
  putRolePolicy(role: string, policy: string, doc: string): Promise<void>;
  deleteRolePolicy(role: string, policy: string): Promise<void>;
  listRolePolicies(role: string): Promise<string[]>;
  listAttachedRolePolicies(role: string): Promise<string[]>;
  detachRolePolicy(role: string, arn: string): Promise<void>;
  deleteRole(name: string): Promise<void>;
  getOidcProvider(arn: string): Promise<{ clientIds: string[] } | undefined>;
  createOidcProvider(url: string, clientIds: string[]): Promise<void>;
  addOidcClientId(arn: string, clientId: string): Promise<void>;
  deleteOidcProvider(arn: string): Promise<void>;
}

const NOT_FOUND = new Set([
  'NoSuchEntity', 'NoSuchEntityException', 'NotFound', 'NoSuchBucket', 'NoSuchBucketPolicy', 'NoSuchLifecycleConfiguration',
  'NoSuchPublicAccessBlockConfiguration', 'ServerSideEncryptionConfigurationNotFoundError', 'NotFoundException', 'RuleDoesNotExist',
  'RuleSetDoesNotExist', 'RuleSetDoesNotExistException', 'RuleDoesNotExistException', 'NoSuchHostedZone', 'InvalidAddress.NotFound', 'InvalidInstanceID.NotFound', 'InvalidAllocationID.NotFound',
  'InvalidAssociationID.NotFound',
]);

// IAM is eventually consistent: a principal created a moment ago may not be usable in a policy yet.
const EVENTUAL = /Invalid principal|does not exist|cannot be found|MalformedPolicyDocument/i;

export interface SetupAwsOptions extends AwsAuthOptions {
  region: string;
  onCall?: (service: string, operation: string) => void;
  /** Milliseconds to wait between eventual-consistency retries (tests set 0). */
  retryDelayMs?: number;
}

export function createSetupAws(opts: SetupAwsOptions): SetupAws {
  const config = { region: opts.region, credentials: credentialProvider(opts), maxAttempts: 6, retryMode: 'adaptive' as const };
  const observe = <C extends { middlewareStack: { add: (...a: never[]) => void } }>(client: C, service: string): C => {
    if (opts.onCall) {
      const onCall = opts.onCall;
      (client.middlewareStack as unknown as { add: (mw: unknown, o: unknown) => void }).add(
        (next: (a: unknown) => unknown, context: { commandName?: string }) => (args: unknown) => {
          onCall(service, (context.commandName ?? 'Unknown').replace(/Command$/, ''));
          return next(args);
        },
        { step: 'initialize', name: 'agentkeysSetupCounter' },
      );
    }
    return client;
  };
  // IAM and Route 53 are global; their SDK clients still need a region to sign with.
  const sts = observe(new STSClient(config), 'sts');
  const r53 = observe(new Route53Client(config), 'route53');
  const ec2 = observe(new EC2Client(config), 'ec2');
  const s3 = observe(new S3Client(config), 's3');
  const sesv2 = observe(new SESv2Client(config), 'sesv2');
  const ses = observe(new SESClient(config), 'ses');
  const iam = observe(new IAMClient(config), 'iam');
  const delay = opts.retryDelayMs ?? 1000;

  const run = async <T>(action: string, resource: string | undefined, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw awsError(err, { action, ...(resource ? { resource } : {}) });
    }
  };
  const maybe = async <T>(action: string, resource: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      const name = (err as { name?: string; Code?: string }).name ?? '';
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (NOT_FOUND.has(name) || (status === 404 && action.startsWith('s3:'))) return undefined;
      throw awsError(err, { action, resource });
    }
  };
  // Deletes are idempotent: a resource that is already gone (by another run, or by hand) is done.
  const gone = async (action: string, resource: string | undefined, fn: () => Promise<void>): Promise<void> => void (await maybe(action, resource ?? '', fn));
  const eventually = async <T>(action: string, resource: string, fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const retryable = EVENTUAL.test((err as Error).message ?? '') || (err as Error).name === 'NoSuchEntity';
        if (!retryable || attempt >= 5) throw awsError(err, { action, resource });
        await new Promise((r) => setTimeout(r, delay * 2 ** attempt));
      }
    }
  };
  const decode = (doc: string | undefined) => (doc === undefined ? undefined : decodeURIComponent(doc));

  return {
    callerIdentity: () => run('sts:GetCallerIdentity', undefined, async () => {
      const out = await sts.send(new GetCallerIdentityCommand({}));
      return { account: out.Account!, arn: out.Arn! };
    }),
    getHostedZone: (id) => maybe('route53:GetHostedZone', id, async () => ({ name: (await r53.send(new GetHostedZoneCommand({ Id: id }))).HostedZone!.Name! })),
    listRecordSets: (zoneId) => run('route53:ListResourceRecordSets', zoneId, async () => {
      const out: ResourceRecordSet[] = [];
      let start: { StartRecordName?: string; StartRecordType?: ResourceRecordSet['Type']; StartRecordIdentifier?: string } = {};
      for (;;) {
        const page = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, ...start }));
        out.push(...(page.ResourceRecordSets ?? []));
        if (!page.IsTruncated || !page.NextRecordName) return out;
        start = { StartRecordName: page.NextRecordName, ...(page.NextRecordType ? { StartRecordType: page.NextRecordType } : {}), ...(page.NextRecordIdentifier ? { StartRecordIdentifier: page.NextRecordIdentifier } : {}) };
      }
    }),
    changeRecordSets: (zoneId, changes, comment) => run('route53:ChangeResourceRecordSets', zoneId, async () => void (await r53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Comment: comment, Changes: changes } })))),
    createHostedZone: (name) => run('route53:CreateHostedZone', name, async () => (await r53.send(new CreateHostedZoneCommand({ Name: name, CallerReference: `agentkeys-${Date.now()}` }))).HostedZone!.Id!.replace('/hostedzone/', '')),
    describeInstance: (id) => maybe('ec2:DescribeInstances', id, async () => {
      const inst = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0];
      if (!inst) return undefined;
      return { ...(inst.PublicIpAddress ? { publicIp: inst.PublicIpAddress } : {}), ...(inst.State?.Name ? { state: inst.State.Name } : {}) };
    }),
    runInstance: () => run('ec2:RunInstances', undefined, async () => (await ec2.send(new RunInstancesCommand({ ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1, InstanceType: 't3.small' }))).Instances![0]!.InstanceId!),
    addressesByTag: (name) => run('ec2:DescribeAddresses', name, async () => ((await ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'tag:Name', Values: [name] }] }))).Addresses ?? []).map(toAddress)),
    // A filter, not PublicIps=[ip]: the latter throws for an auto-assigned (non-EIP) address (setup-steps.md step 4).
    addressByIp: (ip) => run('ec2:DescribeAddresses', ip, async () => ((await ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'public-ip', Values: [ip] }] }))).Addresses ?? []).map(toAddress)[0]),
    allocateAddress: (tagName) => run('ec2:AllocateAddress', tagName, async () => {
      const out = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: [{ Key: 'Name', Value: tagName }, { Key: 'agentkeys:managed', Value: 'true' }] }] }));
      return { allocationId: out.AllocationId!, publicIp: out.PublicIp!, tags: { Name: tagName } };
    }),
    tagResource: (id, tags) => run('ec2:CreateTags', id, async () => void (await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) })))),
    associateAddress: (allocationId, instanceId) => run('ec2:AssociateAddress', allocationId, async () => void (await ec2.send(new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: instanceId, AllowReassociation: false })))),
    disassociateAddress: (associationId) => gone('ec2:DisassociateAddress', associationId, async () => void (await ec2.send(new DisassociateAddressCommand({ AssociationId: associationId })))),
    releaseAddress: (allocationId) => gone('ec2:ReleaseAddress', allocationId, async () => void (await ec2.send(new ReleaseAddressCommand({ AllocationId: allocationId })))),
    headBucket: (name) => run('s3:HeadBucket', name, async () => {
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
    createBucket: (name) => run('s3:CreateBucket', name, async () => void (await s3.send(new CreateBucketCommand({
      Bucket: name,
      // us-east-1 takes no LocationConstraint; every other region needs one (setup-steps.md step 7).
      ...(opts.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: opts.region as BucketLocationConstraint } }),
    })))),
    getPublicAccessBlock: (name) => maybe('s3:GetPublicAccessBlock', name, async () => ({ ...(await s3.send(new GetPublicAccessBlockCommand({ Bucket: name }))).PublicAccessBlockConfiguration } as Record<string, boolean>)),
    putPublicAccessBlock: (name) => run('s3:PutPublicAccessBlock', name, async () => void (await s3.send(new PutPublicAccessBlockCommand({ Bucket: name, PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true } })))),
    getLifecycle: (name) => maybe('s3:GetBucketLifecycleConfiguration', name, async () => (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: name }))).Rules ?? []),
    putLifecycle: (name, rules) => run('s3:PutBucketLifecycleConfiguration', name, async () => void (await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: name, LifecycleConfiguration: { Rules: rules } })))),
    getBucketPolicy: (name) => maybe('s3:GetBucketPolicy', name, async () => (await s3.send(new GetBucketPolicyCommand({ Bucket: name }))).Policy),
    putBucketPolicy: (name, policy) => eventually('s3:PutBucketPolicy', name, async () => void (await s3.send(new PutBucketPolicyCommand({ Bucket: name, Policy: policy })))),
    getBucketEncryption: (name) => maybe('s3:GetBucketEncryption', name, async () => (await s3.send(new GetBucketEncryptionCommand({ Bucket: name }))).ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm),
    putBucketEncryptionSse: (name) => run('s3:PutBucketEncryption', name, async () => void (await s3.send(new PutBucketEncryptionCommand({ Bucket: name, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } })))),
    emptyBucket: (name) => run('s3:DeleteObjects', name, async () => {
      let deleted = 0;
      for (;;) {
        const page = await s3.send(new ListObjectVersionsCommand({ Bucket: name, MaxKeys: 1000 }));
        const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, ...(v.VersionId ? { VersionId: v.VersionId } : {}) }));
        if (objects.length === 0) return deleted;
        await s3.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: objects, Quiet: true } }));
        deleted += objects.length;
      }
    }),
    countObjectVersions: (name) => run('s3:ListObjectVersions', name, async () => {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: name, MaxKeys: 1000 }));
      return (page.Versions?.length ?? 0) + (page.DeleteMarkers?.length ?? 0);
    }),
    deleteBucket: (name) => gone('s3:DeleteBucket', name, async () => void (await s3.send(new DeleteBucketCommand({ Bucket: name })))),
    getEmailIdentity: (name) => maybe('ses:GetEmailIdentity', name, async () => {
      const out = await sesv2.send(new GetEmailIdentityCommand({ EmailIdentity: name }));
      return { verifiedForSending: out.VerifiedForSendingStatus === true, dkimTokens: out.DkimAttributes?.Tokens ?? [] };
    }),
    createEmailIdentity: (name, dkim) => run('ses:CreateEmailIdentity', name, async () => void (await sesv2.send(new CreateEmailIdentityCommand({ EmailIdentity: name, ...(dkim ? { DkimSigningAttributes: { NextSigningKeyLength: 'RSA_2048_BIT' } } : {}) })))),
    deleteEmailIdentity: (name) => gone('ses:DeleteEmailIdentity', name, async () => void (await sesv2.send(new DeleteEmailIdentityCommand({ EmailIdentity: name })))),
    describeRuleSet: (name) => maybe('ses:DescribeReceiptRuleSet', name, async () => ((await ses.send(new DescribeReceiptRuleSetCommand({ RuleSetName: name }))).Rules ?? []).map((r) => r.Name!)),
    createRuleSet: (name) => run('ses:CreateReceiptRuleSet', name, async () => void (await ses.send(new CreateReceiptRuleSetCommand({ RuleSetName: name })))),
    describeRule: (set, rule) => maybe('ses:DescribeReceiptRule', rule, async () => (await ses.send(new DescribeReceiptRuleCommand({ RuleSetName: set, RuleName: rule }))).Rule),
    createRule: (set, rule) => eventually('ses:CreateReceiptRule', rule.Name!, async () => void (await ses.send(new CreateReceiptRuleCommand({ RuleSetName: set, Rule: rule })))),
    updateRule: (set, rule) => run('ses:UpdateReceiptRule', rule.Name!, async () => void (await ses.send(new UpdateReceiptRuleCommand({ RuleSetName: set, Rule: rule })))),
    deleteRule: (set, rule) => gone('ses:DeleteReceiptRule', rule, async () => void (await ses.send(new DeleteReceiptRuleCommand({ RuleSetName: set, RuleName: rule })))),
    activeRuleSet: () => run('ses:DescribeActiveReceiptRuleSet', undefined, async () => (await ses.send(new DescribeActiveReceiptRuleSetCommand({}))).Metadata?.Name),
    setActiveRuleSet: (name) => run('ses:SetActiveReceiptRuleSet', name, async () => void (await ses.send(new SetActiveReceiptRuleSetCommand(name ? { RuleSetName: name } : {})))),
    deleteRuleSet: (name) => gone('ses:DeleteReceiptRuleSet', name, async () => void (await ses.send(new DeleteReceiptRuleSetCommand({ RuleSetName: name })))),
    getUser: (name) => maybe('iam:GetUser', name, async () => ({ arn: (await iam.send(new GetUserCommand({ UserName: name }))).User!.Arn! })),
    createUser: (name) => run('iam:CreateUser', name, async () => void (await iam.send(new CreateUserCommand({ UserName: name, Tags: [{ Key: 'agentkeys:managed', Value: 'true' }] })))),
    deleteUser: (name) => gone('iam:DeleteUser', name, async () => void (await iam.send(new DeleteUserCommand({ UserName: name })))),
    getUserPolicy: (user, policy) => maybe('iam:GetUserPolicy', `${user}/${policy}`, async () => decode((await iam.send(new GetUserPolicyCommand({ UserName: user, PolicyName: policy }))).PolicyDocument)),
    putUserPolicy: (user, policy, doc) => eventually('iam:PutUserPolicy', `${user}/${policy}`, async () => void (await iam.send(new PutUserPolicyCommand({ UserName: user, PolicyName: policy, PolicyDocument: doc })))),
    deleteUserPolicy: (user, policy) => gone('iam:DeleteUserPolicy', `${user}/${policy}`, async () => void (await iam.send(new DeleteUserPolicyCommand({ UserName: user, PolicyName: policy })))),
    listUserPolicies: (user) => run('iam:ListUserPolicies', user, async () => (await iam.send(new ListUserPoliciesCommand({ UserName: user }))).PolicyNames ?? []),
    listAttachedUserPolicies: (user) => run('iam:ListAttachedUserPolicies', user, async () => ((await iam.send(new ListAttachedUserPoliciesCommand({ UserName: user }))).AttachedPolicies ?? []).map((p) => p.PolicyArn!)),
    detachUserPolicy: (user, arn) => gone('iam:DetachUserPolicy', user, async () => void (await iam.send(new DetachUserPolicyCommand({ UserName: user, PolicyArn: arn })))),
    listAccessKeys: (user) => run('iam:ListAccessKeys', user, async () => ((await iam.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata ?? []).map((k) => ({ id: k.AccessKeyId!, status: k.Status ?? 'Active' }))),
    createAccessKey: (user) => run('iam:CreateAccessKey', user, async () => {
      const k = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
      return { id: k.AccessKeyId!, secret: k.SecretAccessKey! };
    }),
    deleteAccessKey: (user, id) => gone('iam:DeleteAccessKey', user, async () => void (await iam.send(new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: id })))),
    getRole: (name) => maybe('iam:GetRole', name, async () => {
      const role = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role!;
      return { arn: role.Arn!, trust: decode(role.AssumeRolePolicyDocument) ?? '{}' };
    }),
    createRole: (name, trust, description) => eventually('iam:CreateRole', name, async () => (await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust, Description: description, Tags: [{ Key: 'agentkeys:managed', Value: 'true' }] }))).Role!.Arn!),
    updateTrust: (name, trust) => eventually('iam:UpdateAssumeRolePolicy', name, async () => void (await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: trust })))),
    getRolePolicy: (role, policy) => maybe('iam:GetRolePolicy', `${role}/${policy}`, async () => decode((await iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: policy }))).PolicyDocument)),
    putRolePolicy: (role, policy, doc) => eventually('iam:PutRolePolicy', `${role}/${policy}`, async () => void (await iam.send(new PutRolePolicyCommand({ RoleName: role, PolicyName: policy, PolicyDocument: doc })))),
    deleteRolePolicy: (role, policy) => gone('iam:DeleteRolePolicy', `${role}/${policy}`, async () => void (await iam.send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: policy })))),
    listRolePolicies: (role) => run('iam:ListRolePolicies', role, async () => (await iam.send(new ListRolePoliciesCommand({ RoleName: role }))).PolicyNames ?? []),
    listAttachedRolePolicies: (role) => run('iam:ListAttachedRolePolicies', role, async () => ((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: role }))).AttachedPolicies ?? []).map((p) => p.PolicyArn!)),
    detachRolePolicy: (role, arn) => gone('iam:DetachRolePolicy', role, async () => void (await iam.send(new DetachRolePolicyCommand({ RoleName: role, PolicyArn: arn })))),
    deleteRole: (name) => gone('iam:DeleteRole', name, async () => void (await iam.send(new DeleteRoleCommand({ RoleName: name })))),
    getOidcProvider: (arn) => maybe('iam:GetOpenIDConnectProvider', arn, async () => ({ clientIds: (await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }))).ClientIDList ?? [] })),
    createOidcProvider: (url, clientIds) => run('iam:CreateOpenIDConnectProvider', url, async () => void (await iam.send(new CreateOpenIDConnectProviderCommand({ Url: url, ClientIDList: clientIds })))),
    addOidcClientId: (arn, clientId) => run('iam:AddClientIDToOpenIDConnectProvider', arn, async () => void (await iam.send(new AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn, ClientID: clientId })))),
    deleteOidcProvider: (arn) => gone('iam:DeleteOpenIDConnectProvider', arn, async () => void (await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })))),
  };
}

function toAddress(a: { AllocationId?: string; PublicIp?: string; InstanceId?: string; AssociationId?: string; Tags?: { Key?: string; Value?: string }[] }): Address {
  return {
    allocationId: a.AllocationId!,
    publicIp: a.PublicIp!,
    // moto returns "" where AWS omits the key (aws-and-moto.md §1 EC2).
    ...(a.InstanceId ? { instanceId: a.InstanceId } : {}),
    ...(a.AssociationId ? { associationId: a.AssociationId } : {}),
    tags: Object.fromEntries((a.Tags ?? []).map((t) => [t.Key!, t.Value ?? ''])),
  };
}

/** Read-only operations; everything else counts as a mutating call. */
export function isMutatingOperation(operation: string): boolean {
  return !/^(Get|List|Describe|Head)/.test(operation);
}
