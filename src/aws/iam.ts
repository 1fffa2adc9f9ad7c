import {
  IAMClient,
  AddClientIDToOpenIDConnectProviderCommand,
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  DeleteInstanceProfileCommand,
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  RemoveRoleFromInstanceProfileCommand,
  SimulatePrincipalPolicyCommand,
  CreateAccessKeyCommand,
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteOpenIDConnectProviderCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  ListAccessKeysCommand,
  UpdateAccessKeyCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListRolePoliciesCommand,
  ListUserPoliciesCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import type { AwsServiceContext } from './service.js';
import { observeCalls, quotaIsNotThrottling } from './call.js';

// IAM returns policy documents URL-encoded; callers get them decoded.
const decode = (doc: string | undefined) => (doc === undefined ? undefined : decodeURIComponent(doc));

export interface Decision {
  action: string;
  resource: string;
  /** allowed | explicitDeny | implicitDeny */
  decision: string;
}

/** The IAM calls agentkeys makes, and nothing else. */
export interface IamApi {
  getUser(name: string): Promise<{ arn: string } | undefined>;
  createUser(name: string): Promise<void>;
  deleteUser(name: string): Promise<void>;
  getUserPolicy(user: string, policy: string): Promise<string | undefined>;
  putUserPolicy(user: string, policy: string, doc: string): Promise<void>;
  deleteUserPolicy(user: string, policy: string): Promise<void>;
  listUserPolicies(user: string): Promise<string[]>;
  listAttachedUserPolicies(user: string): Promise<string[]>;
  detachUserPolicy(user: string, arn: string): Promise<void>;
  /** createdAt: ISO 8601, when IAM says (the age doctor holds to CIS's 90 days). */
  listAccessKeys(user: string): Promise<{ id: string; status: string; createdAt?: string }[]>;
  createAccessKey(user: string): Promise<{ id: string; secret: string }>;
  deleteAccessKey(user: string, id: string): Promise<void>;
  deactivateAccessKey(user: string, id: string): Promise<void>;
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
  getOidcProvider(arn: string): Promise<{ clientIds: string[]; thumbprints: string[] } | undefined>;
  createOidcProvider(url: string, clientIds: string[]): Promise<void>;
  addOidcClientId(arn: string, clientId: string): Promise<void>;
  deleteOidcProvider(arn: string): Promise<void>;
  getInstanceProfile(name: string): Promise<{ arn: string; roles: string[] } | undefined>;
  createInstanceProfile(name: string): Promise<void>;
  addRoleToInstanceProfile(profile: string, role: string): Promise<void>;
  removeRoleFromInstanceProfile(profile: string, role: string): Promise<void>;
  deleteInstanceProfile(name: string): Promise<void>;
  /** A managed policy's default version, decoded (the security audit reads what it grants). */
  getManagedPolicyDocument(arn: string): Promise<string | undefined>;
  /** IAM's own answer to "may this principal do these actions on these resources" (doctor). */
  /**
   * IAM's policy simulator. `context`: condition keys the request would carry (the broker's
   * principal tags); `resourcePolicy`: a bucket policy to evaluate with the identity's own.
   */
  simulatePrincipalPolicy(
    principalArn: string,
    actions: string[],
    resources: string[],
    opts?: { context?: Record<string, string>; resourcePolicy?: string },
  ): Promise<Decision[]>;
}

export function createIamApi(ctx: AwsServiceContext): IamApi {
  const caller = ctx.caller;
  const iam = observeCalls(quotaIsNotThrottling(new IAMClient(ctx.config)), 'iam', ctx.onCall);
  return {
    getUser: (name) =>
      caller.maybe('iam:GetUser', name, async () => ({
        arn: (await iam.send(new GetUserCommand({ UserName: name }))).User!.Arn!,
      })),
    createUser: (name) =>
      caller.call(
        'iam:CreateUser',
        name,
        async () =>
          void (await iam.send(
            new CreateUserCommand({ UserName: name, Tags: [{ Key: 'agentkeys:managed', Value: 'true' }] }),
          )),
      ),
    deleteUser: (name) =>
      caller.gone('iam:DeleteUser', name, async () => void (await iam.send(new DeleteUserCommand({ UserName: name })))),
    getUserPolicy: (user, policy) =>
      caller.maybe('iam:GetUserPolicy', `${user}/${policy}`, async () =>
        decode((await iam.send(new GetUserPolicyCommand({ UserName: user, PolicyName: policy }))).PolicyDocument),
      ),
    putUserPolicy: (user, policy, doc) =>
      caller.eventually(
        'iam:PutUserPolicy',
        `${user}/${policy}`,
        async () =>
          void (await iam.send(new PutUserPolicyCommand({ UserName: user, PolicyName: policy, PolicyDocument: doc }))),
      ),
    deleteUserPolicy: (user, policy) =>
      caller.gone(
        'iam:DeleteUserPolicy',
        `${user}/${policy}`,
        async () => void (await iam.send(new DeleteUserPolicyCommand({ UserName: user, PolicyName: policy }))),
      ),
    listUserPolicies: (user) =>
      caller.call(
        'iam:ListUserPolicies',
        user,
        async () => (await iam.send(new ListUserPoliciesCommand({ UserName: user }))).PolicyNames ?? [],
      ),
    listAttachedUserPolicies: (user) =>
      caller.call('iam:ListAttachedUserPolicies', user, async () =>
        ((await iam.send(new ListAttachedUserPoliciesCommand({ UserName: user }))).AttachedPolicies ?? []).map(
          (p) => p.PolicyArn!,
        ),
      ),
    detachUserPolicy: (user, arn) =>
      caller.gone(
        'iam:DetachUserPolicy',
        user,
        async () => void (await iam.send(new DetachUserPolicyCommand({ UserName: user, PolicyArn: arn }))),
      ),
    listAccessKeys: (user) =>
      caller.call('iam:ListAccessKeys', user, async () =>
        ((await iam.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata ?? []).map((k) => ({
          id: k.AccessKeyId!,
          status: k.Status ?? 'Active',
          ...(k.CreateDate ? { createdAt: k.CreateDate.toISOString() } : {}),
        })),
      ),
    createAccessKey: (user) =>
      caller.call('iam:CreateAccessKey', user, async () => {
        const k = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
        return { id: k.AccessKeyId!, secret: k.SecretAccessKey! };
      }),
    deactivateAccessKey: (user, id) =>
      caller.call('iam:UpdateAccessKey', `${user} ${id}`, async () => {
        await iam.send(new UpdateAccessKeyCommand({ UserName: user, AccessKeyId: id, Status: 'Inactive' }));
      }),
    deleteAccessKey: (user, id) =>
      caller.gone(
        'iam:DeleteAccessKey',
        user,
        async () => void (await iam.send(new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: id }))),
      ),
    getRole: (name) =>
      caller.maybe('iam:GetRole', name, async () => {
        const role = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role!;
        return { arn: role.Arn!, trust: decode(role.AssumeRolePolicyDocument) ?? '{}' };
      }),
    createRole: (name, trust, description) =>
      caller.eventually(
        'iam:CreateRole',
        name,
        async () =>
          (
            await iam.send(
              new CreateRoleCommand({
                RoleName: name,
                AssumeRolePolicyDocument: trust,
                Description: description,
                Tags: [{ Key: 'agentkeys:managed', Value: 'true' }],
              }),
            )
          ).Role!.Arn!,
      ),
    updateTrust: (name, trust) =>
      caller.eventually(
        'iam:UpdateAssumeRolePolicy',
        name,
        async () => void (await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: trust }))),
      ),
    getRolePolicy: (role, policy) =>
      caller.maybe('iam:GetRolePolicy', `${role}/${policy}`, async () =>
        decode((await iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: policy }))).PolicyDocument),
      ),
    putRolePolicy: (role, policy, doc) =>
      caller.eventually(
        'iam:PutRolePolicy',
        `${role}/${policy}`,
        async () =>
          void (await iam.send(new PutRolePolicyCommand({ RoleName: role, PolicyName: policy, PolicyDocument: doc }))),
      ),
    deleteRolePolicy: (role, policy) =>
      caller.gone(
        'iam:DeleteRolePolicy',
        `${role}/${policy}`,
        async () => void (await iam.send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: policy }))),
      ),
    listRolePolicies: (role) =>
      caller.call(
        'iam:ListRolePolicies',
        role,
        async () => (await iam.send(new ListRolePoliciesCommand({ RoleName: role }))).PolicyNames ?? [],
      ),
    listAttachedRolePolicies: (role) =>
      caller.call('iam:ListAttachedRolePolicies', role, async () =>
        ((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: role }))).AttachedPolicies ?? []).map(
          (p) => p.PolicyArn!,
        ),
      ),
    detachRolePolicy: (role, arn) =>
      caller.gone(
        'iam:DetachRolePolicy',
        role,
        async () => void (await iam.send(new DetachRolePolicyCommand({ RoleName: role, PolicyArn: arn }))),
      ),
    deleteRole: (name) =>
      caller.gone('iam:DeleteRole', name, async () => void (await iam.send(new DeleteRoleCommand({ RoleName: name })))),
    getOidcProvider: (arn) =>
      caller.maybe('iam:GetOpenIDConnectProvider', arn, async () => {
        const out = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
        return { clientIds: out.ClientIDList ?? [], thumbprints: out.ThumbprintList ?? [] };
      }),
    createOidcProvider: (url, clientIds) =>
      caller.call(
        'iam:CreateOpenIDConnectProvider',
        url,
        async () =>
          void (await iam.send(new CreateOpenIDConnectProviderCommand({ Url: url, ClientIDList: clientIds }))),
      ),
    addOidcClientId: (arn, clientId) =>
      caller.call(
        'iam:AddClientIDToOpenIDConnectProvider',
        arn,
        async () =>
          void (await iam.send(
            new AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn, ClientID: clientId }),
          )),
      ),
    deleteOidcProvider: (arn) =>
      caller.gone(
        'iam:DeleteOpenIDConnectProvider',
        arn,
        async () => void (await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }))),
      ),
    getInstanceProfile: (name) =>
      caller.maybe('iam:GetInstanceProfile', name, async () => {
        const p = (await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }))).InstanceProfile!;
        return { arn: p.Arn!, roles: (p.Roles ?? []).map((r) => r.RoleName!) };
      }),
    createInstanceProfile: (name) =>
      caller.call(
        'iam:CreateInstanceProfile',
        name,
        async () =>
          void (await iam.send(
            new CreateInstanceProfileCommand({
              InstanceProfileName: name,
              Tags: [{ Key: 'agentkeys:managed', Value: 'true' }],
            }),
          )),
      ),
    addRoleToInstanceProfile: (profile, role) =>
      caller.eventually(
        'iam:AddRoleToInstanceProfile',
        `${profile}/${role}`,
        async () =>
          void (await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: profile, RoleName: role }))),
      ),
    removeRoleFromInstanceProfile: (profile, role) =>
      caller.gone(
        'iam:RemoveRoleFromInstanceProfile',
        `${profile}/${role}`,
        async () =>
          void (await iam.send(
            new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: profile, RoleName: role }),
          )),
      ),
    deleteInstanceProfile: (name) =>
      caller.gone(
        'iam:DeleteInstanceProfile',
        name,
        async () => void (await iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: name }))),
      ),
    simulatePrincipalPolicy: (principalArn, actions, resources, opts = {}) =>
      caller.call('iam:SimulatePrincipalPolicy', principalArn, async () => {
        const decisions: Decision[] = [];
        let marker: string | undefined;
        do {
          const page = await iam.send(
            new SimulatePrincipalPolicyCommand({
              PolicySourceArn: principalArn,
              ActionNames: actions,
              ResourceArns: resources,
              ...(opts.context
                ? {
                    ContextEntries: Object.entries(opts.context).map(([key, value]) => ({
                      ContextKeyName: key,
                      ContextKeyValues: [value],
                      ContextKeyType: 'string' as const,
                    })),
                  }
                : {}),
              ...(opts.resourcePolicy ? { ResourcePolicy: opts.resourcePolicy } : {}),
              ...(marker ? { Marker: marker } : {}),
            }),
          );
          for (const r of page.EvaluationResults ?? [])
            decisions.push({
              action: r.EvalActionName!,
              resource: r.EvalResourceName ?? '*',
              decision: r.EvalDecision ?? 'implicitDeny',
            });
          marker = page.IsTruncated ? page.Marker : undefined;
        } while (marker);
        return decisions;
      }),
    getManagedPolicyDocument: (arn) =>
      caller.maybe('iam:GetPolicyVersion', arn, async () => {
        const policy = (await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!;
        const version = await iam.send(
          new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: policy.DefaultVersionId }),
        );
        return decode(version.PolicyVersion?.Document);
      }),
  };
}
