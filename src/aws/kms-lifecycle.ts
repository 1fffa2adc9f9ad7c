// The KMS key lifecycle beyond signing and encryption (a key manager's verbs, and what `aws kms`
// users expect): list, disable/enable, schedule and cancel deletion, on-demand rotation and its
// history. A narrow interface over the same client the rest of KMS uses.
import {
  CancelKeyDeletionCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { createCaller } from './call.js';
import type { KmsApi } from './kms.js';

export interface KeyRotation {
  rotatedAt: string;
  type: string;
}

export interface KmsLifecycleApi {
  /** Every key id of the account and region (all pages). */
  listKeyIds(): Promise<string[]>;
  disableKey(keyId: string): Promise<void>;
  enableKey(keyId: string): Promise<void>;
  /** The date KMS will delete the key. */
  scheduleKeyDeletion(keyId: string, days: number): Promise<string | undefined>;
  cancelKeyDeletion(keyId: string): Promise<void>;
  rotateKeyOnDemand(keyId: string): Promise<void>;
  listKeyRotations(keyId: string): Promise<KeyRotation[]>;
}

export function kmsLifecycle(kms: KmsApi): KmsLifecycleApi {
  const { call } = createCaller();
  const client = kms.client;
  return {
    listKeyIds: () =>
      call('kms:ListKeys', undefined, async () => {
        const ids: string[] = [];
        let marker: string | undefined;
        do {
          const page = await client.send(new ListKeysCommand(marker ? { Marker: marker } : {}));
          for (const k of page.Keys ?? []) if (k.KeyId) ids.push(k.KeyId);
          marker = page.Truncated ? page.NextMarker : undefined;
        } while (marker);
        return ids;
      }),
    disableKey: (keyId) =>
      call('kms:DisableKey', keyId, async () => void (await client.send(new DisableKeyCommand({ KeyId: keyId })))),
    enableKey: (keyId) =>
      call('kms:EnableKey', keyId, async () => void (await client.send(new EnableKeyCommand({ KeyId: keyId })))),
    scheduleKeyDeletion: (keyId, days) =>
      call('kms:ScheduleKeyDeletion', keyId, async () => {
        const out = await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: days }));
        return out.DeletionDate ? new Date(out.DeletionDate).toISOString() : undefined;
      }),
    cancelKeyDeletion: (keyId) =>
      call(
        'kms:CancelKeyDeletion',
        keyId,
        async () => void (await client.send(new CancelKeyDeletionCommand({ KeyId: keyId }))),
      ),
    rotateKeyOnDemand: (keyId) =>
      call(
        'kms:RotateKeyOnDemand',
        keyId,
        async () => void (await client.send(new RotateKeyOnDemandCommand({ KeyId: keyId }))),
      ),
    listKeyRotations: (keyId) =>
      call('kms:ListKeyRotations', keyId, async () => {
        const out: KeyRotation[] = [];
        let marker: string | undefined;
        do {
          const page = await client.send(
            new ListKeyRotationsCommand({ KeyId: keyId, ...(marker ? { Marker: marker } : {}) }),
          );
          for (const r of page.Rotations ?? [])
            out.push({
              rotatedAt: r.RotationDate ? new Date(r.RotationDate).toISOString() : '',
              type: r.RotationType ?? 'UNKNOWN',
            });
          marker = page.Truncated ? page.NextMarker : undefined;
        } while (marker);
        return out;
      }),
  };
}
