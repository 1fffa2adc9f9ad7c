import { createPublicKey } from 'node:crypto';
import type { SignerEntry } from '../signing/registry.js';
import type { VerificationKey } from '../signing/verify.js';

/** Everything needed to verify signatures, in a form that crosses to worker threads. */
export interface KeyRingData {
  signers: SignerEntry[];
  /** kid → why its registry entry could not be used. */
  rejected: Record<string, string>;
  /** kid → HMAC secret (UTF-8 bytes, base64 here only to cross the thread boundary). */
  hmacSecrets: Record<string, string>;
  /** Tolerance applied to validity windows. */
  slackMs: number;
  /** Check HMAC signatures (or all) with KMS instead of locally: the caller does those calls. */
  kmsVerify?: 'off' | 'hmac' | 'all';
}

export type KeyLookup =
  | { ok: true; key: VerificationKey; validFrom?: number; validTo?: number }
  | { ok: 'kms'; keyId: string; validFrom?: number; validTo?: number }
  | { ok: false; reason: string };

export class KeyRing {
  private readonly keys = new Map<string, KeyLookup>();
  /** Registry entries of KMS keys by their ARN: rows signed under the ARN as kid find them too. */
  private readonly byArn = new Map<string, KeyLookup>();

  constructor(private readonly data: KeyRingData) {
    for (const entry of data.signers) {
      const lookup = this.toLookup(entry);
      this.keys.set(entry.signerId, lookup);
      if (entry.keyArn && entry.keyArn !== entry.signerId) this.byArn.set(entry.keyArn, lookup);
    }
    for (const [kid, secret] of Object.entries(data.hmacSecrets)) {
      const entry = data.signers.find((s) => s.signerId === kid);
      this.keys.set(kid, {
        ok: true,
        key: { alg: 'hmac-sha256', secret: Buffer.from(secret, 'base64') },
        ...windowOf(entry),
      });
    }
  }

  get slackMs(): number {
    return this.data.slackMs;
  }

  /**
   * The key for a kid, from the registry only: --kms-verify asks KMS to check keys the registry
   * lists (by kid or by ARN), never a key ARN that merely appears in a row.
   */
  lookup(kid: string): KeyLookup {
    const found = this.keys.get(kid) ?? this.byArn.get(kid);
    if (found) return found;
    const rejected = this.data.rejected[kid];
    if (rejected) return { ok: false, reason: `the registry entry for ${kid} is unusable: ${rejected}` };
    const next = kid.startsWith('arn:aws')
      ? 'a KMS key the registry does not list; if it is yours: agentkeys signers rebuild with this --log'
      : `add its public key to signers.json, or for an HMAC signer pass --hmac-key ${kid}=FILE`;
    return { ok: false, reason: `signer ${kid} is not in the registry (${next})` };
  }

  private toLookup(entry: SignerEntry): KeyLookup {
    const mode = this.data.kmsVerify ?? 'off';
    if (mode === 'all' || (mode === 'hmac' && entry.algorithm === 'hmac-sha256')) {
      return { ok: 'kms', keyId: entry.keyArn ?? entry.signerId, ...windowOf(entry) };
    }
    if (entry.algorithm === 'hmac-sha256') {
      return {
        ok: false,
        reason: `signer ${entry.signerId} is HMAC; pass --hmac-key ${entry.signerId}=FILE, or --kms-verify to ask KMS`,
      };
    }
    return {
      ok: true,
      key: { alg: entry.algorithm, publicKey: createPublicKey(entry.publicKey!) },
      ...windowOf(entry),
    };
  }
}

function windowOf(entry: SignerEntry | undefined): { validFrom?: number; validTo?: number } {
  const out: { validFrom?: number; validTo?: number } = {};
  if (entry?.validFrom) out.validFrom = Date.parse(entry.validFrom);
  if (entry?.validTo) out.validTo = Date.parse(entry.validTo);
  return out;
}
