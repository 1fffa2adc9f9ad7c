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

// Metadata reads are not operations on key material; everything else is recorded.
const NOT_RECORDED = new Set([
  'DescribeKey',
  'GetPublicKey',
  'ListAliases',
  'ListKeys',
  'ListResourceTags',
  'GetKeyRotationStatus',
]);

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

  /** The records as audit events, emptying the trail. */
  drainEvents(actor = 'agentkeys'): NewEvent[] {
    const events = this.records.splice(0).map((r) => ({
      event_type: `kms.${r.operation}`,
      actor_id: actor,
      payload: { ...r } as unknown as NewEvent['payload'],
    }));
    return events;
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
