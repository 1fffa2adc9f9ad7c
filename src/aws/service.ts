import { createCaller, type AwsCaller, type AwsCallObservation } from './call.js';
import { credentialProvider, type AwsAuthOptions } from './credentials.js';

/** What every per-service adapter is built from: one client config, one caller, one observer. */
export interface AwsServiceContext {
  region: string;
  config: {
    region: string;
    credentials: ReturnType<typeof credentialProvider>;
    maxAttempts: number;
    retryMode: 'adaptive';
    endpoint?: string;
  };
  caller: AwsCaller;
  onCall?: (call: AwsCallObservation) => void;
}

export interface AwsServiceOptions extends AwsAuthOptions {
  region: string;
  onCall?: (call: AwsCallObservation) => void;
  /** Milliseconds to wait between eventual-consistency retries (tests set 0). */
  retryDelayMs?: number;
  /** Attempts per request, the SDK's own retries included (default 6, adaptive backoff). */
  maxAttempts?: number;
}

export function createServiceContext(opts: AwsServiceOptions): AwsServiceContext {
  // IAM and Route 53 are global; their SDK clients still need a region to sign with.
  return {
    region: opts.region,
    config: {
      region: opts.region,
      credentials: credentialProvider(opts),
      maxAttempts: opts.maxAttempts ?? 6,
      retryMode: 'adaptive',
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    },
    caller: createCaller(opts.retryDelayMs !== undefined ? { retryDelayMs: opts.retryDelayMs } : {}),
    ...(opts.onCall ? { onCall: opts.onCall } : {}),
  };
}
