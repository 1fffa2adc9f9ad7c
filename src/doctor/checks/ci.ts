import { isAgentkeysError } from '../../errors.js';
import { resolveSigner } from '../../signing/resolve.js';
import { fail, ok, type DoctorCheck } from '../check.js';

/**
 * Seed 000's protected-branch guard: with REQUIRE_KMS=true the configured signing key must be a
 * KMS key that opens (DescribeKey and GetPublicKey answer), never a local one.
 */
export const requireKmsCheck: DoctorCheck = {
  id: 'ci.require-kms',
  group: 'ci',
  title: 'REQUIRE_KMS=true and the signing key is a KMS key',
  async run(ctx) {
    if (!ctx.config.requireKms)
      return fail('REQUIRE_KMS is not true', 'set REQUIRE_KMS=true in the protected branch environment');
    try {
      const signer = await resolveSigner(ctx.config, ctx.openKmsSigner ? { openKmsSigner: ctx.openKmsSigner } : {});
      return ok(`signing key ${signer.kid} (${signer.alg}, ${signer.source})`);
    } catch (err) {
      if (!isAgentkeysError(err)) throw err;
      return fail(`${err.code}: ${err.message}`, err.hint ?? 'set AUDIT_SIGNING_KMS_KEY_ID=<key id|alias|arn>');
    }
  },
};
