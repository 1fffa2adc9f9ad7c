import * as path from 'node:path';
import type { SnsApi } from './aws/sns.js';
import type { SecretsApi } from './aws/secrets.js';
import type { EcsApi } from './aws/ecs.js';
import type { S3LockApi } from './aws/s3.js';
import type { AwsCallObservation } from './aws/call.js';
import type { AgentkeysConfig } from './config/load.js';
import type { SetupContext, SetupEvent } from './setup/step.js';
import type { Stack } from './config/stack.js';
import type { AwsAuthOptions } from './aws/credentials.js';
import type { KmsApi } from './aws/kms.js';
import { KmsSigner } from './signing/kms-signer.js';
import { DEFAULT_KEY_CACHE_TTL_MS, fileKeyCache, type KmsKeyCache } from './signing/kms-key-cache.js';
import { DEFAULT_REGION } from './aws/region.js';
import { KmsTrail } from './audit/kms-trail.js';
import type { WitnessObjects } from './store/witness.js';

/**
 * The composition root: the only place AWS clients are constructed. Clients are built on first
 * use, so offline commands (verify-audit) never touch credentials.
 */
export interface Services {
  /** Loads the KMS SDK on first use (≈0.2–0.4 s), so offline commands never pay for it. */
  kms(): Promise<KmsApi>;
  /**
   * A KMS client for another region, same credentials, endpoint and call counting: a message
   * wrapped under keys in several regions is decrypted by each key in its own region.
   */
  kmsIn(region: string): Promise<KmsApi>;
  /**
   * A KMS audit signer, the one way every command opens one. `cached`: its metadata and public key
   * may come from .agentkeys/cache (writers, for one Sign per event); health checks ask KMS.
   */
  openKmsSigner(ref: string, opts?: { kid?: string; cached?: boolean }): Promise<KmsSigner>;
  /** KMS requests made so far, by operation (for --debug and benchmarks). */
  readonly kmsCalls: Map<string, number>;
  /** Every KMS operation, for --audit-log. */
  readonly trail: KmsTrail;
  /** The S3 object calls of the checkpoint witness (loads the S3 SDK on first use). */
  witnessObjects(): Promise<WitnessObjects>;
  /** Who this process acts as (STS GetCallerIdentity), asked once; for the KMS trail. */
  callerIdentity(): Promise<{ account: string; arn: string }>;
  /** Tells `listener` of every KMS request from now on (mcp --metrics-port: their latency). */
  onKmsCall(listener: (call: AwsCallObservation) => void): void;
  /** SNS in a region (the alert topic's own), loaded on first use. */
  sns(region: string): Promise<SnsApi>;
  /** Secrets Manager and ECS in the configured region (AgentIdP's JWT pair and its service). */
  secrets(): Promise<SecretsApi>;
  ecs(): Promise<EcsApi>;
}

/** The operator's explicit AWS credential choices from the config; the rest is the SDK's chain. */
export function awsAuthFromConfig(config: AgentkeysConfig): AwsAuthOptions {
  // KMS_AUTH_MODE=iam means the credential chain even where a token is mounted.
  const webIdentity = config.kmsAuthMode !== 'iam';
  return {
    ...(config.region ? { region: config.region } : {}),
    ...(config.profile ? { profile: config.profile } : {}),
    ...(config.roleArn ? { roleArn: config.roleArn } : {}),
    ...(webIdentity && config.webIdentityTokenFile ? { webIdentityTokenFile: config.webIdentityTokenFile } : {}),
    ...(webIdentity && config.webIdentityToken ? { webIdentityToken: config.webIdentityToken } : {}),
    ...(webIdentity && config.webIdentityRoleArn ? { webIdentityRoleArn: config.webIdentityRoleArn } : {}),
    ...(config.kmsEndpoint ? { kmsEndpoint: config.kmsEndpoint } : {}),
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    sessionSeconds: config.sessionSeconds,
  };
}

export interface ServiceOptions {
  kmsMaxAttempts?: number;
  /** Told once, when a client is built without a configured region and falls back to the default. */
  onDefaultRegion?: (region: string) => void;
}

export function createServices(config: AgentkeysConfig, opts: ServiceOptions = {}): Services {
  let kms: Promise<KmsApi> | undefined;
  const regional = new Map<string, Promise<KmsApi>>();
  const kmsCalls = new Map<string, number>();
  const trail = new KmsTrail();
  const listeners: ((call: AwsCallObservation) => void)[] = [];
  const onCall = (call: AwsCallObservation) => {
    kmsCalls.set(call.operation, (kmsCalls.get(call.operation) ?? 0) + 1);
    trail.observe(call);
    for (const l of listeners) l(call);
  };
  let witness: Promise<WitnessObjects> | undefined;
  let identity: Promise<{ account: string; arn: string }> | undefined;
  const kmsApi = (): Promise<KmsApi> => {
    if (kms) return kms;
    if (!config.region) opts.onDefaultRegion?.(DEFAULT_REGION);
    kms = import('./aws/kms.js').then((m) =>
      m.createKmsApi({
        ...awsAuthFromConfig(config),
        onCall,
        ...(opts.kmsMaxAttempts ? { maxAttempts: opts.kmsMaxAttempts } : {}),
      }),
    );
    return kms;
  };
  const here = () => ({ ...awsAuthFromConfig(config), region: config.region ?? DEFAULT_REGION });
  return {
    kmsCalls,
    trail,
    openKmsSigner: async (ref, { kid, cached } = {}) => {
      const api = await kmsApi();
      const cache = cached ? await keyCacheOf(config, api) : undefined;
      return KmsSigner.open(api, ref, { ...(kid ? { kid } : {}), ...(cache ? { cache } : {}) });
    },
    onKmsCall: (listener) => void listeners.push(listener),
    sns: async (region) => {
      const [sns, service] = await Promise.all([import('./aws/sns.js'), import('./aws/service.js')]);
      return sns.createSnsApi(service.createServiceContext({ ...awsAuthFromConfig(config), region }));
    },
    secrets: async () => {
      const [secrets, service] = await Promise.all([import('./aws/secrets.js'), import('./aws/service.js')]);
      return secrets.createSecretsApi(service.createServiceContext(here()));
    },
    ecs: async () => {
      const [ecs, service] = await Promise.all([import('./aws/ecs.js'), import('./aws/service.js')]);
      return ecs.createEcsApi(service.createServiceContext(here()));
    },
    callerIdentity: () => {
      identity ??= Promise.all([import('./aws/sts.js'), import('./aws/service.js')]).then(([sts, service]) =>
        sts
          .createStsApi(
            service.createServiceContext({ ...awsAuthFromConfig(config), region: config.region ?? DEFAULT_REGION }),
          )
          .callerIdentity(),
      );
      return identity;
    },
    witnessObjects: () => {
      witness ??= Promise.all([import('./aws/s3.js'), import('./aws/service.js')]).then(([s3, service]) =>
        s3.createS3ObjectApi(
          service.createServiceContext({ ...awsAuthFromConfig(config), region: config.region ?? DEFAULT_REGION }),
        ),
      );
      return witness;
    },
    kmsIn: (region) => {
      let api = regional.get(region);
      if (!api) {
        api = import('./aws/kms.js').then((m) =>
          m.createKmsApi({
            ...awsAuthFromConfig(config),
            region,
            onCall,
            ...(opts.kmsMaxAttempts ? { maxAttempts: opts.kmsMaxAttempts } : {}),
          }),
        );
        regional.set(region, api);
      }
      return api;
    },
    kms: kmsApi,
  };
}

/** Entries are filed under the endpoint, region and access key: an alias names another key elsewhere. */
async function keyCacheOf(config: AgentkeysConfig, kms: KmsApi): Promise<KmsKeyCache | undefined> {
  const ttl = config.keyCacheTtlMs ?? DEFAULT_KEY_CACHE_TTL_MS;
  if (ttl === 0) return undefined;
  const credentials = await kms.client.config.credentials().catch(() => undefined);
  if (!credentials?.accessKeyId) return undefined;
  const endpoint = config.kmsEndpoint ?? config.endpoint ?? 'aws';
  return fileKeyCache(config.dir, `${endpoint}|${kms.region}|${credentials.accessKeyId}`, ttl);
}

export interface CallCounts {
  total: number;
  mutating: number;
  byOperation: Record<string, number>;
}

export interface SetupContextOptions {
  stack: Stack;
  auth: AwsAuthOptions;
  dir: string;
  signersPath?: string;
  showSecret: boolean;
  confirm: (question: string) => Promise<boolean>;
  report: (event: SetupEvent) => void;
  fetchJson?: SetupContext['fetchJson'];
  retryDelayMs?: number;
}

/**
 * setup and teardown: every client built from the stack's REGION, every call counted. The SDK
 * clients are imported here, on first use, like KMS above: offline commands never load them.
 */
export async function createSetupContext(opts: SetupContextOptions): Promise<{ ctx: SetupContext; calls: CallCounts }> {
  const [{ createSetupAws, isMutatingOperation }, { createKmsApi }] = await Promise.all([
    import('./aws/setup-api.js'),
    import('./aws/kms.js'),
  ]);
  const calls: CallCounts = { total: 0, mutating: 0, byOperation: {} };
  const count = ({ service, operation }: AwsCallObservation) => {
    calls.total++;
    if (isMutatingOperation(operation)) calls.mutating++;
    const key = `${service}:${operation}`;
    calls.byOperation[key] = (calls.byOperation[key] ?? 0) + 1;
  };
  const region = opts.stack.region;
  const aws = createSetupAws({
    ...opts.auth,
    region,
    onCall: count,
    ...(opts.retryDelayMs !== undefined ? { retryDelayMs: opts.retryDelayMs } : {}),
  });
  const kms = createKmsApi({ ...opts.auth, region, onCall: count });
  const ctx: SetupContext = {
    stack: opts.stack,
    aws,
    kms,
    credentialsFile: path.join(opts.dir, 'credentials', `${opts.stack.name}.ini`),
    signersPath: opts.signersPath ?? stackSignersPath(opts.stack, opts.dir),
    showSecret: opts.showSecret,
    confirm: opts.confirm,
    report: opts.report,
    fetchJson: opts.fetchJson ?? fetchJson,
    state: {
      ...(opts.stack.eip ? { eip: opts.stack.eip } : {}),
      ...(opts.stack.dataRoleArnEnv ? { dataRoleArn: opts.stack.dataRoleArnEnv } : {}),
    },
  };
  return { ctx, calls };
}

async function fetchJson(url: string): Promise<{ status: number; json?: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'error' });
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) };
  } catch {
    return { status: res.status };
  }
}

/** The stack's region comes from its env file, never from the shell (AWS_REGION would send a run elsewhere). */
export function awsAuthForStack(config: AgentkeysConfig): AwsAuthOptions {
  const { region: _ignored, ...auth } = awsAuthFromConfig(config);
  return auth;
}

/** The stack lock's S3 calls (src/setup/stack-lock.ts), apart from the steps' call counts. */
export async function stackLockStore(config: AgentkeysConfig, region: string): Promise<S3LockApi> {
  const [s3, service] = await Promise.all([import('./aws/s3.js'), import('./aws/service.js')]);
  return s3.createS3LockApi(service.createServiceContext({ ...awsAuthForStack(config), region }));
}

/** The stack's clients for read-only commands (doctor, broker probe): nothing is ever confirmed. */
export async function readOnlySetupContext(stack: Stack, config: AgentkeysConfig): Promise<SetupContext> {
  const { ctx } = await createSetupContext({
    stack,
    auth: awsAuthForStack(config),
    dir: config.dir,
    showSecret: false,
    confirm: async () => false,
    report: () => undefined,
  });
  return ctx;
}

/** The signer registry setup publishes a stack's audit key into (step 15). */
export function stackSignersPath(stack: Pick<Stack, 'name'>, dir: string): string {
  return path.join(dir, stack.name === 'test' ? 'signers.test.json' : 'signers.json');
}
