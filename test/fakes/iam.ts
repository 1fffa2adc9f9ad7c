// Models: users with inline policies, attached policy ARNs and up to two access keys; roles with a
// trust document and inline policies; OIDC providers by ARN with client ids. Policy documents are
// stored as given (AWS and moto hand back URL-decoded JSON that samePolicy compares).
// Instance profiles hold at most one role (as in AWS). Managed policies: AWS's own (arn:aws:iam::aws:)
// read as an Allow of everything, so the security audit flags them; attachPolicy is the test's hand.
// Leaves out: eventual consistency, policy validation, customer managed policies, paths, tags.
import type { IamApi } from '../../src/aws/iam.js';
import { AgentkeysError } from '../../src/errors.js';
import { conflict } from './account.js';

interface User {
  policies: Map<string, string>;
  attached: string[];
  keys: { id: string; status: string; createdAt: string }[];
}
interface Role {
  trust: string;
  policies: Map<string, string>;
  attached: string[];
}

export function fakeIam(account: string) {
  const users = new Map<string, User>();
  const roles = new Map<string, Role>();
  const providers = new Map<string, string[]>();
  const profiles = new Map<string, string[]>();
  let keySeq = 0;
  const user = (name: string) => {
    const u = users.get(name);
    if (!u) throw new AgentkeysError({ code: 'AWS_CALL_FAILED', message: `no IAM user ${name} (fake NoSuchEntity)` });
    return u;
  };
  const role = (name: string) => {
    const r = roles.get(name);
    if (!r) throw new AgentkeysError({ code: 'AWS_CALL_FAILED', message: `no IAM role ${name} (fake NoSuchEntity)` });
    return r;
  };
  const api: IamApi = {
    getUser: async (name) => (users.has(name) ? { arn: `arn:aws:iam::${account}:user/${name}` } : undefined),
    createUser: async (name) => {
      if (users.has(name)) throw conflict(`IAM user ${name}`);
      users.set(name, { policies: new Map(), attached: [], keys: [] });
    },
    deleteUser: async (name) => void users.delete(name),
    getUserPolicy: async (name, policy) => users.get(name)?.policies.get(policy),
    putUserPolicy: async (name, policy, doc) => void user(name).policies.set(policy, doc),
    deleteUserPolicy: async (name, policy) => void users.get(name)?.policies.delete(policy),
    listUserPolicies: async (name) => [...(users.get(name)?.policies.keys() ?? [])],
    listAttachedUserPolicies: async (name) => [...(users.get(name)?.attached ?? [])],
    detachUserPolicy: async (name, arn) => {
      const u = users.get(name);
      if (u) u.attached = u.attached.filter((a) => a !== arn);
    },
    listAccessKeys: async (name) => [...(users.get(name)?.keys ?? [])],
    createAccessKey: async (name) => {
      const u = user(name);
      if (u.keys.length >= 2)
        throw new AgentkeysError({ code: 'IAM_QUOTA_EXCEEDED', message: `${name} has 2 access keys (fake)` });
      const id = `AKIAFAKE${String(++keySeq).padStart(12, '0')}`;
      u.keys.push({ id, status: 'Active', createdAt: new Date().toISOString() });
      return { id, secret: `fake-secret-${keySeq}` };
    },
    deactivateAccessKey: async (name, id) => {
      for (const k of users.get(name)?.keys ?? []) if (k.id === id) k.status = 'Inactive';
    },
    deleteAccessKey: async (name, id) => {
      const u = users.get(name);
      if (u) u.keys = u.keys.filter((k) => k.id !== id);
    },
    getRole: async (name) => {
      const r = roles.get(name);
      return r ? { arn: `arn:aws:iam::${account}:role/${name}`, trust: r.trust } : undefined;
    },
    createRole: async (name, trust) => {
      if (roles.has(name)) throw conflict(`IAM role ${name}`);
      roles.set(name, { trust, policies: new Map(), attached: [] });
      return `arn:aws:iam::${account}:role/${name}`;
    },
    updateTrust: async (name, trust) => void (role(name).trust = trust),
    getRolePolicy: async (name, policy) => roles.get(name)?.policies.get(policy),
    putRolePolicy: async (name, policy, doc) => void role(name).policies.set(policy, doc),
    deleteRolePolicy: async (name, policy) => void roles.get(name)?.policies.delete(policy),
    listRolePolicies: async (name) => [...(roles.get(name)?.policies.keys() ?? [])],
    listAttachedRolePolicies: async (name) => [...(roles.get(name)?.attached ?? [])],
    detachRolePolicy: async (name, arn) => {
      const r = roles.get(name);
      if (r) r.attached = r.attached.filter((a) => a !== arn);
    },
    deleteRole: async (name) => void roles.delete(name),
    getOidcProvider: async (arn) =>
      providers.has(arn) ? { clientIds: [...providers.get(arn)!], thumbprints: [] } : undefined,
    createOidcProvider: async (url, clientIds) => {
      const arn = `arn:aws:iam::${account}:oidc-provider/${url.replace(/^https:\/\//, '')}`;
      if (providers.has(arn)) throw conflict(`OIDC provider ${url}`);
      providers.set(arn, [...clientIds]);
    },
    addOidcClientId: async (arn, clientId) => void providers.get(arn)?.push(clientId),
    deleteOidcProvider: async (arn) => void providers.delete(arn),
    getInstanceProfile: async (name) =>
      profiles.has(name)
        ? { arn: `arn:aws:iam::${account}:instance-profile/${name}`, roles: [...profiles.get(name)!] }
        : undefined,
    createInstanceProfile: async (name) => {
      if (profiles.has(name)) throw conflict(`instance profile ${name}`);
      profiles.set(name, []);
    },
    addRoleToInstanceProfile: async (name, roleName) => {
      const p = profiles.get(name);
      role(roleName);
      if (!p || p.length > 0)
        throw new AgentkeysError({ code: 'IAM_QUOTA_EXCEEDED', message: 'one role a profile (fake)' });
      p.push(roleName);
    },
    removeRoleFromInstanceProfile: async (name, roleName) =>
      void profiles.set(
        name,
        (profiles.get(name) ?? []).filter((r) => r !== roleName),
      ),
    deleteInstanceProfile: async (name) => void profiles.delete(name),
    simulatePrincipalPolicy: async () => {
      throw new AgentkeysError({ code: 'AWS_CALL_FAILED', message: 'iam:SimulatePrincipalPolicy: use moto' });
    },
    getManagedPolicyDocument: async (arn) =>
      arn.startsWith('arn:aws:iam::aws:policy/')
        ? JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] })
        : undefined,
  };
  return {
    api,
    /** The test's hand: a managed policy attached the way an early deploy did it. */
    attachRolePolicy: (roleName: string, arn: string) => void role(roleName).attached.push(arn),
  };
}
