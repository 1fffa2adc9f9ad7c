// One fake AWS account: every setup adapter plus KMS, with call counts like the real context's.
import { AgentkeysError } from '../../src/errors.js';
import type { SetupAws } from '../../src/aws/setup-api.js';
import type { KmsApi } from '../../src/aws/kms.js';
import { fakeEc2 } from './ec2.js';
import { fakeIam } from './iam.js';
import { fakeKms } from './kms.js';
import { fakeRoute53 } from './route53.js';
import { fakeS3 } from './s3.js';
import { fakeSes } from './ses.js';
import { fakeSns } from './sns.js';

export const ACCOUNT = '123456789012';

export interface CallLog {
  total: number;
  mutating: number;
  byMethod: Record<string, number>;
}

// The adapters' read-only methods, by name; everything else mutates (as isMutatingOperation).
const READ = /^(get|list|describe|head|count|addresses|address|active|caller)/;

/** Counts every method call of an adapter object. */
function counted<T extends object>(api: T, log: CallLog): T {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        log.total++;
        if (!READ.test(prop)) log.mutating++;
        log.byMethod[prop] = (log.byMethod[prop] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

export function conflict(what: string): AgentkeysError {
  return new AgentkeysError({ code: 'AWS_CALL_FAILED', message: `${what} already exists (fake account)` });
}

export interface FakeAccount {
  aws: SetupAws;
  kms: KmsApi;
  calls: CallLog;
  /** Puts a hosted zone in place, as the sandbox seed does; returns its id. */
  addZone(name: string): string;
  /** An EC2 instance with a public IP; returns its id. */
  addInstance(): string;
  /** Attaches a managed policy to a role, as an early deploy did (the security audit's input). */
  attachRolePolicy(role: string, arn: string): void;
  resetCalls(): void;
}

export function createFakeAccount(region = 'us-east-1'): FakeAccount {
  const calls: CallLog = { total: 0, mutating: 0, byMethod: {} };
  const route53 = fakeRoute53();
  const ec2 = fakeEc2();
  const iam = fakeIam(ACCOUNT);
  const sts = {
    callerIdentity: async () => ({ account: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/agentkeys-admin` }),
  };
  const aws: SetupAws = {
    ...sts,
    ...route53.api,
    ...ec2.api,
    ...fakeS3(),
    ...fakeSes(),
    ...iam.api,
    ...fakeSns(ACCOUNT, region),
  };
  return {
    aws: counted(aws, calls),
    kms: counted(fakeKms(ACCOUNT, region), calls),
    calls,
    addZone: route53.addZone,
    addInstance: ec2.addInstance,
    attachRolePolicy: iam.attachRolePolicy,
    resetCalls: () => Object.assign(calls, { total: 0, mutating: 0, byMethod: {} }),
  };
}
