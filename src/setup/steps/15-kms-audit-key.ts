import { createOrAdoptKey, describeKeyIfExists } from '../../signing/kms-keys.js';
import { KmsSigner } from '../../signing/kms-signer.js';
import { readSignerRegistryIfExists } from '../../signing/registry.js';
import { publishSigner } from '../../signing/publish.js';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { verifySignature } from '../../signing/verify.js';
import { blocked, change, done, once, pending, type SetupContext, type Step } from '../step.js';

function anchorProbe() {
  const message = Buffer.concat([Buffer.from('agentkeys setup --verify probe '), randomBytes(16)]);
  return { message, digest: createHash('sha256').update(message).digest() };
}

const SPEC = 'ECC_NIST_P256';

/**
 * Replaces upstream's no-op step 15: the stack's KMS audit-signing key, an
 * asymmetric SIGN_VERIFY key behind alias/agentkeys-audit[-test], with its public key published
 * into signers.json so every event it signs verifies offline.
 */
export const kmsAuditKeyStep: Step = {
  num: 15,
  id: 'kms-audit-key',
  title: 'Create the KMS audit-signing key and publish it',
  async check(ctx) {
    const alias = ctx.stack.kmsAuditAlias;
    const meta = await describeKeyIfExists(ctx.kms, alias);
    // Creating and publishing are one idempotent act (adopt the key if it exists, upsert its entry).
    const createAndPublish = once(() => createAndPublishKey(ctx, meta?.KeySpec ?? SPEC));
    const publish = change('write', `public key into ${ctx.signersPath}`, createAndPublish);
    if (!meta)
      return pending([change('create', `KMS key ${alias}`, createAndPublish, `${SPEC}, SIGN_VERIFY`), publish]);
    // An HMAC key the alias already names is adopted too: it signs with GenerateMac, its chains verify
    // through KMS (VerifyMac), and step 21 grants those two actions instead of Sign.
    if (meta.KeyUsage !== 'SIGN_VERIFY' && meta.KeyUsage !== 'GENERATE_VERIFY_MAC')
      return blocked(
        `${alias} names a ${meta.KeyUsage} key (${meta.Arn})`,
        'point the alias at an asymmetric SIGN_VERIFY key (or an HMAC key), or rotate: agentkeys rotate-key',
      );
    const registry = await readSignerRegistryIfExists(ctx.signersPath);
    if (!registry.signers.some((s) => s.signerId === meta.Arn)) return pending([publish]);
    return done(`${alias} → ${meta.Arn} (${meta.KeySpec}), published in ${ctx.signersPath}`);
  },
  /** Signs a probe digest with KMS and checks it with the key published in signers.json. */
  async verify(ctx) {
    const signer = await KmsSigner.open(ctx.kms, ctx.stack.kmsAuditAlias);
    const entry = (await readSignerRegistryIfExists(ctx.signersPath)).signers.find((s) => s.signerId === signer.kid);
    if (signer.alg === 'hmac-sha256') {
      if (!entry) return `${signer.kid} is not published in ${ctx.signersPath}`;
      const probe = anchorProbe();
      return (await signer.verifyOwn(probe, await signer.sign(probe.digest)))
        ? undefined
        : `KMS VerifyMac refused a MAC that ${signer.kid} just made`;
    }
    if (!entry?.publicKey) return `${signer.kid} is not published in ${ctx.signersPath}`;
    const signed = anchorProbe();
    const signature = await signer.sign(signed.digest);
    return verifySignature(
      { alg: entry.algorithm as 'ecdsa-p256', publicKey: createPublicKey(entry.publicKey) },
      signed,
      signature,
    )
      ? undefined
      : `a signature by ${signer.kid} does not verify with the public key in ${ctx.signersPath}`;
  },
};

async function createAndPublishKey(ctx: SetupContext, spec: string): Promise<void> {
  const { meta } = await createOrAdoptKey(ctx.kms, {
    spec,
    alias: ctx.stack.kmsAuditAlias,
    description: `agentkeys audit signing (${ctx.stack.name})`,
  });
  const signer = await KmsSigner.open(ctx.kms, meta.Arn!);
  await publishSigner(ctx.signersPath, signer, {
    keyArn: signer.keyArn,
    description: `agentkeys setup, ${ctx.stack.name} stack`,
  });
}
