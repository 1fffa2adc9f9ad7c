// The one wrapper every AWS call goes through: errors classified by their code (awsError), the
// "absent" and "already gone" answers told apart from failures by code, retries for IAM's
// eventual consistency by code, and one SDK middleware that observes (counts, audits) every call.
import { tracingOn, withSpan } from '../sys/tracing.js';
import { awsError } from './errors.js';
import { nameOf } from '../sys/operator-file.js';

/** One request as the SDK middleware saw it. */
export interface AwsCallObservation {
  service: string;
  operation: string;
  input: Record<string, unknown>;
  output?: Record<string, unknown>;
  errorName?: string;
  /** Wall time of the request, the SDK's own retries included. */
  durationMs?: number;
}

type MiddlewareClient = { middlewareStack: { add: (...a: never[]) => void } };

/** Adds the observer to a client's middleware stack: every request, the SDK's retries aside, is seen once. */
export function observeCalls<C extends MiddlewareClient>(
  client: C,
  service: string,
  onCall?: (call: AwsCallObservation) => void,
): C {
  if (!onCall && !tracingOn()) return client;
  (client.middlewareStack as unknown as { add: (mw: unknown, o: unknown) => void }).add(
    (next: (a: { input: unknown }) => Promise<{ output: unknown }>, context: { commandName?: string }) =>
      async (args: { input: unknown }) => {
        const base = {
          service,
          operation: (context.commandName ?? 'Unknown').replace(/Command$/, ''),
          input: args.input as Record<string, unknown>,
        };
        const started = performance.now();
        const attributes = { 'rpc.system': 'aws-api', 'rpc.service': service, 'rpc.method': base.operation };
        try {
          const result = await withSpan(`aws ${service}.${base.operation}`, attributes, () => next(args));
          onCall?.({
            ...base,
            output: result.output as Record<string, unknown>,
            durationMs: performance.now() - started,
          });
          return result;
        } catch (err) {
          onCall?.({ ...base, errorName: nameOf(err), durationMs: performance.now() - started });
          throw err;
        }
      },
    { step: 'initialize', name: 'agentkeysCallObserver' },
  );
  return client;
}

/**
 * IAM answers a quota (two access keys per user, policies per role) with LimitExceeded, which the
 * SDK deserializes as LimitExceededException, a name its retry strategy counts as throttling: a
 * quota hit then waits out every retry (~20 s) before failing. Renamed where it is raised, the
 * error fails at once, as the client error it is (awsError names it IAM_QUOTA_EXCEEDED).
 */
export function quotaIsNotThrottling<C extends MiddlewareClient>(client: C): C {
  (client.middlewareStack as unknown as { add: (mw: unknown, o: unknown) => void }).add(
    (next: (a: unknown) => Promise<unknown>) => async (args: unknown) => {
      try {
        return await next(args);
      } catch (err) {
        if (nameOf(err) === 'LimitExceededException')
          Object.defineProperty(err, 'name', { value: 'LimitExceeded', configurable: true });
        throw err;
      }
    },
    // Inside the retry middleware (finalizeRequest), around the deserializer that raises it.
    { step: 'deserialize', priority: 'high', name: 'agentkeysQuotaIsNotThrottling' },
  );
  return client;
}

/** Read-only operations; everything else counts as a mutating call. */
export function isMutatingOperation(operation: string): boolean {
  return !/^(Get|List|Describe|Head)/.test(operation);
}

// The codes AWS answers "no such thing" with, per service.
const NOT_FOUND = new Set([
  'NoSuchEntity',
  'NoSuchEntityException',
  'NotFound',
  'NoSuchBucket',
  'NoSuchBucketPolicy',
  'NoSuchLifecycleConfiguration',
  'NoSuchPublicAccessBlockConfiguration',
  'ServerSideEncryptionConfigurationNotFoundError',
  'NotFoundException',
  'ResourceNotFoundException',
  'RuleDoesNotExist',
  'RuleSetDoesNotExist',
  'RuleSetDoesNotExistException',
  'RuleDoesNotExistException',
  'NoSuchHostedZone',
  'InvalidAddress.NotFound',
  'InvalidInstanceID.NotFound',
  'InvalidAllocationID.NotFound',
  'InvalidAssociationID.NotFound',
]);

// IAM is eventually consistent: a principal created a moment ago is not yet usable in a policy
// (IAM MalformedPolicyDocument, S3 MalformedPolicy: "Invalid principal"), a new user not yet
// found (NoSuchEntity), a bucket policy not yet in force for SES (InvalidS3Configuration).
const EVENTUAL = new Set([
  'MalformedPolicyDocument',
  'MalformedPolicyDocumentException',
  'MalformedPolicy',
  'NoSuchEntity',
  'InvalidS3ConfigurationException',
  'InvalidS3Configuration',
]);

const errorName = (err: unknown) => (err as { name?: string }).name ?? '';
const httpStatus = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

export interface AwsCaller {
  /** Runs one call; any failure becomes a coded AgentkeysError naming the action and resource. */
  call<T>(action: string, resource: string | undefined, fn: () => Promise<T>): Promise<T>;
  /** As call, but "not found" is undefined (never AccessDenied or throttling, which stay errors). */
  maybe<T>(action: string, resource: string, fn: () => Promise<T>): Promise<T | undefined>;
  /** Deletes are idempotent: a resource that is already gone (by another run, or by hand) is done. */
  gone(action: string, resource: string | undefined, fn: () => Promise<unknown>): Promise<void>;
  /** As call, retried with backoff while AWS has not caught up with a resource created just before. */
  eventually<T>(action: string, resource: string, fn: () => Promise<T>): Promise<T>;
}

export function createCaller(opts: { retryDelayMs?: number; attempts?: number } = {}): AwsCaller {
  const delay = opts.retryDelayMs ?? 1000;
  const attempts = opts.attempts ?? 6;
  const call: AwsCaller['call'] = async (action, resource, fn) => {
    try {
      return await fn();
    } catch (err) {
      throw awsError(err, { action, ...(resource ? { resource } : {}) });
    }
  };
  const maybe: AwsCaller['maybe'] = async (action, resource, fn) => {
    try {
      return await fn();
    } catch (err) {
      if (NOT_FOUND.has(errorName(err)) || (httpStatus(err) === 404 && action.startsWith('s3:'))) return undefined;
      throw awsError(err, { action, resource });
    }
  };
  const eventually: AwsCaller['eventually'] = async (action, resource, fn) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!EVENTUAL.has(errorName(err)) || attempt >= attempts) throw awsError(err, { action, resource });
        await new Promise((r) => setTimeout(r, delay * 2 ** (attempt - 1)));
      }
    }
  };
  return {
    call,
    maybe,
    eventually,
    gone: async (action, resource, fn) => void (await maybe(action, resource ?? '', fn)),
  };
}
