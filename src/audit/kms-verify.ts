import type { Finding } from './findings.js';
import type { DeferredCheck } from './verify-chunk.js';
import { AgentkeysError } from '../errors.js';
import type { KmsApi } from '../aws/kms.js';
import { algorithmOfKeySpec, signRequest } from '../signing/kms-signer.js';

const CONCURRENCY = 8;

/**
 * verify-audit --kms-verify: checks signatures with KMS (VerifyMac for HMAC, Verify for asymmetric
 * keys), for operators who do not hold the HMAC secret. The algorithm comes from the key's spec.
 * A key that is gone or not ours to use is a finding; KMS being unreachable is an error.
 */
export function createKmsChecker(kms: KmsApi): (checks: DeferredCheck[]) => Promise<Finding[]> {
  const algs = new Map<string, Promise<ReturnType<typeof algorithmOfKeySpec>>>();
  const algOf = (keyId: string) => {
    if (!algs.has(keyId))
      algs.set(
        keyId,
        kms.describeKey(keyId).then((m) => algorithmOfKeySpec(m.KeySpec, keyId)),
      );
    return algs.get(keyId)!;
  };
  const checkOne = async (c: DeferredCheck): Promise<Finding | undefined> => {
    const digest = Buffer.from(c.digest, 'hex');
    const signature = Buffer.from(c.signature, 'base64');
    try {
      const alg = await algOf(c.keyId);
      const valid =
        alg === 'hmac-sha256'
          ? await kms.verifyMac(c.keyId, digest, signature)
          : await kms.verify({ ...signRequest(alg, c.keyId, digest), Signature: signature });
      return valid
        ? undefined
        : {
            index: c.index,
            id: c.id,
            code: 'SIGNATURE_INVALID',
            message: `KMS says the ${alg} signature by ${c.kid} does not match the recomputed digest ${c.digest}`,
          };
    } catch (err) {
      if (
        err instanceof AgentkeysError &&
        [
          'KMS_KEY_NOT_FOUND',
          'KMS_ACCESS_DENIED',
          'KMS_KEY_SPEC_UNSUPPORTED',
          'KMS_KEY_INVALID_STATE',
          'KMS_KEY_DISABLED',
        ].includes(err.code)
      ) {
        return {
          index: c.index,
          id: c.id,
          code: 'UNKNOWN_SIGNER',
          message: `KMS cannot check ${c.kid}: ${err.message}`,
        };
      }
      throw err;
    }
  };
  return async (checks) => {
    const findings: Finding[] = [];
    for (let i = 0; i < checks.length; i += CONCURRENCY) {
      const results = await Promise.all(checks.slice(i, i + CONCURRENCY).map(checkOne));
      for (const f of results) if (f) findings.push(f);
    }
    return findings;
  };
}
