import type { AgentkeysConfig } from './config/load.js';
import type { AwsAuthOptions } from './aws/credentials.js';
import type { KmsApi, KmsCallObservation } from './aws/kms.js';
import { DEFAULT_REGION } from './aws/region.js';
import { KmsTrail } from './audit/kms-trail.js';

/**
 * The composition root: the only place AWS clients are constructed. Clients are built on first
 * use, so offline commands (verify-audit) never touch credentials.
 */
export interface Services {
  /** Loads the KMS SDK on first use (≈0.2–0.4 s), so offline commands never pay for it. */
  kms(): Promise<KmsApi>;
  /** KMS requests made so far, by operation (for --debug and benchmarks). */
  readonly kmsCalls: Map<string, number>;
  /** Every KMS operation, for --audit-log. */
  readonly trail: KmsTrail;
}

/** The operator's explicit AWS credential choices from the config; the rest is the SDK's chain. */
export function awsAuthFromConfig(config: AgentkeysConfig): AwsAuthOptions {
  return {
    ...(config.region ? { region: config.region } : {}),
    ...(config.profile ? { profile: config.profile } : {}),
    ...(config.roleArn ? { roleArn: config.roleArn } : {}),
    ...(config.webIdentityTokenFile ? { webIdentityTokenFile: config.webIdentityTokenFile } : {}),
    ...(config.webIdentityRoleArn ? { webIdentityRoleArn: config.webIdentityRoleArn } : {}),
    ...(config.kmsEndpoint ? { kmsEndpoint: config.kmsEndpoint } : {}),
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
  };
}

export interface ServiceOptions {
  kmsMaxAttempts?: number;
  /** Told once, when a client is built without a configured region and falls back to the default. */
  onDefaultRegion?: (region: string) => void;
}

export function createServices(config: AgentkeysConfig, opts: ServiceOptions = {}): Services {
  let kms: Promise<KmsApi> | undefined;
  const kmsCalls = new Map<string, number>();
  const trail = new KmsTrail();
  const onCall = (call: KmsCallObservation) => {
    kmsCalls.set(call.operation, (kmsCalls.get(call.operation) ?? 0) + 1);
    trail.observe(call);
  };
  return {
    kmsCalls,
    trail,
    kms: () => {
      if (kms) return kms;
      if (!config.region) opts.onDefaultRegion?.(DEFAULT_REGION);
      kms = import('./aws/kms.js').then((m) => m.createKmsApi({ ...awsAuthFromConfig(config), onCall, ...(opts.kmsMaxAttempts ? { maxAttempts: opts.kmsMaxAttempts } : {}) }));
      return kms;
    },
  };
}
