import type { AwsCallObservation } from '../aws/call.js';
import type { NewEvent } from './record.js';

/** What the audit trail keeps of a KMS operation: never key material, plaintext or context values. */
export interface KmsOperationRecord {
  operation: string;
  keyArn: string | null;
  contextKeys: string[];
  result: 'ok' | 'error';
  error?: string;
  count: number;
}

// Every operation is recorded, metadata reads too, as CloudTrail records them (issue 24).
const NOT_RECORDED = new Set<string>();

export class KmsTrail {
  readonly records: KmsOperationRecord[] = [];

  observe(call: AwsCallObservation): void {
    if (NOT_RECORDED.has(call.operation)) return;
    const record: KmsOperationRecord = {
      operation: call.operation,
      keyArn: keyArnOf(call),
      contextKeys: Object.keys((call.input.EncryptionContext as Record<string, string> | undefined) ?? {}).sort(),
      result: call.errorName ? 'error' : 'ok',
      ...(call.errorName ? { error: call.errorName } : {}),
      count: 1,
    };
    const last = this.records[this.records.length - 1];
    // A batch of 1,000 signatures is one record with count 1000, not 1,000 events.
    if (last && sameKind(last, record)) last.count++;
    else this.records.push(record);
  }

  /**
   * The records as audit events, emptying the trail. `caller`: the identity the process acted as
   * (STS GetCallerIdentity), and the role when it is an assumed one, as CloudTrail's userIdentity.
   */
  drainEvents(actor = 'agentkeys', caller?: string | null): NewEvent[] {
    const role = caller ? /:assumed-role\/([^/]+)\//.exec(caller)?.[1] : undefined;
    const who = caller === undefined ? {} : { caller, ...(role ? { assumed_role: role } : {}) };
    return this.records.splice(0).map((r) => ({
      event_type: `kms.${r.operation}`,
      actor_id: actor,
      payload: { ...r, ...who } as unknown as NewEvent['payload'],
    }));
  }
}

function keyArnOf(call: AwsCallObservation): string | null {
  const out = call.output ?? {};
  const meta = out.KeyMetadata as { Arn?: string } | undefined;
  const fromOutput = meta?.Arn ?? (typeof out.KeyId === 'string' ? out.KeyId : undefined);
  const fromInput = call.input.KeyId ?? call.input.TargetKeyId ?? call.input.AliasName;
  return fromOutput ?? (typeof fromInput === 'string' ? fromInput : null);
}

function sameKind(a: KmsOperationRecord, b: KmsOperationRecord): boolean {
  return (
    a.operation === b.operation &&
    a.keyArn === b.keyArn &&
    a.result === b.result &&
    a.error === b.error &&
    a.contextKeys.join() === b.contextKeys.join()
  );
}
