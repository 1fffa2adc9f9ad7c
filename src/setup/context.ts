import * as path from 'node:path';
import type { AwsAuthOptions } from '../aws/credentials.js';
import { createKmsApi } from '../aws/kms.js';
import type { AwsCallObservation } from '../aws/call.js';
import { createSetupAws, isMutatingOperation } from '../aws/setup-api.js';
import type { SetupContext, SetupEvent } from './step.js';
import type { Stack } from './stack.js';

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

/** Composition root for setup and teardown: every client built from the stack's REGION, every call counted. */
export function createSetupContext(opts: SetupContextOptions): { ctx: SetupContext; calls: CallCounts } {
  const calls: CallCounts = { total: 0, mutating: 0, byOperation: {} };
  const count = ({ service, operation }: AwsCallObservation) => {
    calls.total++;
    if (isMutatingOperation(operation)) calls.mutating++;
    const key = `${service}:${operation}`;
    calls.byOperation[key] = (calls.byOperation[key] ?? 0) + 1;
  };
  const region = opts.stack.region;
  const aws = createSetupAws({ ...opts.auth, region, onCall: count, ...(opts.retryDelayMs !== undefined ? { retryDelayMs: opts.retryDelayMs } : {}) });
  const kms = createKmsApi({ ...opts.auth, region, onCall: count });
  const ctx: SetupContext = {
    stack: opts.stack,
    aws,
    kms,
    credentialsFile: path.join(opts.dir, 'credentials', `${opts.stack.name}.ini`),
    signersPath: opts.signersPath ?? path.join(opts.dir, opts.stack.name === 'test' ? 'signers.test.json' : 'signers.json'),
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
