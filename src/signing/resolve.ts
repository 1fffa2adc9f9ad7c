import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { AgentkeysConfig } from '../config/load.js';
import { UsageError } from '../errors.js';
import { fileExists } from '../sys/fs.js';
import { fetchSettingText } from '../sys/https.js';
import type { SigningAlg } from './algorithms.js';
import { generateKeyPair, localKeyPath } from './local-keys.js';
import { readSignerRegistryIfExists, upsertSigner, writeSignerRegistry } from './registry.js';
import { HmacSigner, LocalKeySigner, loadPrivateKey, type AuditSigner } from './signer.js';
import { readOperatorText } from '../sys/operator-file.js';

/** Where the signing key comes from, in the order they are tried. */
type KeySpec =
  | { kind: 'kms'; keyId: string; origin: string }
  | { kind: 'file'; file: string; origin: string }
  | { kind: 'local'; kid: string; origin: string }
  | { kind: 'inline'; material: string; origin: string }
  | { kind: 'url'; url: string; origin: string }
  | { kind: 'ephemeral' };

export interface SignerDeps {
  /**
   * Opens a KMS signer; injected so this module stays free of AWS imports. `kid`:
   * AUDIT_SIGNER_KID / --signer-kid, when the operator names the signer (default: the key ARN).
   */
  openKmsSigner?: (keyRef: string, kid?: string) => Promise<AuditSigner>;
}

/**
 * Picks the signer from the configuration: --key, then the signing settings
 * (AUDIT_SIGNING_KEY_SOURCE=kms / AUDIT_SIGNING_KMS_KEY_ID, AUDIT_SIGNING_PRIVATE_KEY,
 * AUDIT_SIGNING_KEY_PATH), then DEV_ALLOW_EPHEMERAL. REQUIRE_KMS=true refuses every local key.
 */
export async function resolveSigner(config: AgentkeysConfig, deps: SignerDeps = {}): Promise<AuditSigner> {
  const spec = chooseKeySpec(config);
  if (config.requireKms && spec.kind !== 'kms') {
    throw new UsageError({
      code: 'LOCAL_KEY_REFUSED',
      message: `REQUIRE_KMS=true (${config.origins.requireKms}) refuses local signing keys`,
      hint: 'sign with --key kms:<key id|alias|arn>, or unset REQUIRE_KMS outside production',
    });
  }
  const signer = await loadSigner(spec, config, deps);
  if (config.alg && config.alg !== signer.alg) {
    throw new UsageError({
      code: 'KEY_ALG_MISMATCH',
      message: `${signer.source} is ${signer.alg} but ${config.origins.alg} says ${config.alg}`,
      hint: 'make AUDIT_SIGNING_ALG match the key type, or drop it',
    });
  }
  return signer;
}

function chooseKeySpec(config: AgentkeysConfig): KeySpec {
  const ref = config.keyRef;
  if (ref?.startsWith('kms:')) return { kind: 'kms', keyId: ref.slice(4), origin: config.origins.keyRef! };
  if (ref?.startsWith('file:')) return { kind: 'file', file: ref.slice(5), origin: config.origins.keyRef! };
  if (ref?.startsWith('local:')) return { kind: 'local', kid: ref.slice(6), origin: config.origins.keyRef! };
  if (config.keySource === 'kms' || (config.kmsKeyId && config.keySource !== 'local')) {
    if (!config.kmsKeyId)
      throw new UsageError({
        code: 'CONFIG_INVALID',
        message: 'AUDIT_SIGNING_KEY_SOURCE=kms needs AUDIT_SIGNING_KMS_KEY_ID',
        hint: 'set AUDIT_SIGNING_KMS_KEY_ID or pass --key kms:<id>',
      });
    return { kind: 'kms', keyId: config.kmsKeyId, origin: config.origins.kmsKeyId! };
  }
  if (config.privateKey) return { kind: 'inline', material: config.privateKey, origin: config.origins.privateKey! };
  if (config.keyPath) return { kind: 'file', file: config.keyPath, origin: config.origins.keyPath! };
  if (config.keyUrl) return { kind: 'url', url: config.keyUrl, origin: config.origins.keyUrl! };
  if (config.devAllowEphemeral) return { kind: 'ephemeral' };
  throw new UsageError({
    code: 'SIGNING_KEY_MISSING',
    message:
      'no signing key: pass --key, or set AUDIT_SIGNING_PRIVATE_KEY / AUDIT_SIGNING_KEY_PATH ' +
      '/ AUDIT_SIGNING_KEY_URL / AUDIT_SIGNING_KMS_KEY_ID',
    // REQUIRE_KMS=true refuses every local key: never suggest one there.
    hint: config.requireKms
      ? 'REQUIRE_KMS=true takes a KMS key: agentkeys keys create --spec ECC_NIST_P256 --alias alias/agent-audit, ' +
        'then --key kms:alias/agent-audit'
      : 'create one with: agentkeys keys create --local --alg ed25519 --kid audit-1, then --key local:audit-1',
  });
}

async function loadSigner(spec: KeySpec, config: AgentkeysConfig, deps: SignerDeps): Promise<AuditSigner> {
  switch (spec.kind) {
    case 'kms':
      if (!deps.openKmsSigner)
        throw new UsageError({
          code: 'KMS_SIGNING_UNAVAILABLE',
          message: `KMS signing (${spec.origin}) is not available here`,
        });
      return deps.openKmsSigner(spec.keyId, config.signerKid);
    case 'file':
      return signerFromFile(spec.file, config.signerKid ?? kidFromFile(spec.file), config.alg);
    case 'local':
      return signerFromLocalKid(spec.kid, config);
    case 'inline':
      return signerFromMaterial(unescapeNewlines(spec.material), config.signerKid ?? 'local', spec.origin, config.alg);
    case 'url': {
      // Fetched for this run only, never written to disk (AUDIT_SIGNING_KEY_URL, a secret service).
      const material = await fetchSettingText(spec.url, 'AUDIT_SIGNING_KEY_URL');
      return signerFromMaterial(material, config.signerKid ?? 'local', spec.origin, config.alg);
    }
    case 'ephemeral':
      return createEphemeralSigner(config);
  }
}

async function signerFromLocalKid(kid: string, config: AgentkeysConfig): Promise<AuditSigner> {
  for (const alg of ['ed25519', 'hmac-sha256'] as const) {
    const file = localKeyPath(config.dir, kid, alg);
    if (await fileExists(file))
      return signerFromFile(file, config.signerKid ?? kid, alg === 'hmac-sha256' ? alg : config.alg);
  }
  throw new UsageError({
    code: 'KEY_NOT_FOUND',
    message: `no local key "${kid}" in ${path.join(config.dir, 'keys')}`,
    hint: `create it with: agentkeys keys create --local --alg ed25519 --kid ${kid}`,
  });
}

async function signerFromFile(file: string, kid: string, alg: SigningAlg | undefined): Promise<AuditSigner> {
  const text = await readOperatorText(file, {
    code: 'KEY_NOT_FOUND',
    what: 'key file',
    hint: 'check the path given to --key file:… or AUDIT_SIGNING_KEY_PATH',
  });
  const isHmac = alg === 'hmac-sha256' || file.endsWith('.secret');
  return signerFromMaterial(
    isHmac ? stripFinalNewline(text) : text,
    kid,
    `key file ${file}`,
    isHmac ? 'hmac-sha256' : alg,
  );
}

function signerFromMaterial(material: string, kid: string, source: string, alg: SigningAlg | undefined): AuditSigner {
  if (alg === 'hmac-sha256') return new HmacSigner(kid, material, source);
  if (!material.includes('-----BEGIN')) {
    throw new UsageError({
      code: 'KEY_UNREADABLE',
      message: `${source} is not a PEM key`,
      hint: 'for an HMAC secret set AUDIT_SIGNING_ALG=hmac-sha256',
    });
  }
  return new LocalKeySigner(kid, loadPrivateKey(material, source), source);
}

/**
 * DEV_ALLOW_EPHEMERAL: a throwaway Ed25519 key under a kid that says so, with its public key
 * registered so the events it signs still verify. Agent Manager signed with ephemeral keys under
 * the real signer id, which could never verify (docs/audit-format.md §5.2).
 */
async function createEphemeralSigner(config: AgentkeysConfig): Promise<AuditSigner> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '').slice(0, 15);
  const kid = `ephemeral-${stamp}-${randomBytes(3).toString('hex')}`;
  const { privateKey, publicKey } = generateKeyPair('ed25519');
  const registry = await readSignerRegistryIfExists(config.signersPath);
  const entry = {
    signerId: kid,
    algorithm: 'ed25519' as const,
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    validFrom: new Date().toISOString(),
    description: 'ephemeral development key (DEV_ALLOW_EPHEMERAL)',
  };
  await writeSignerRegistry(config.signersPath, upsertSigner(registry, entry));
  return new LocalKeySigner(kid, privateKey, 'an ephemeral development key');
}

// Agent Manager's env files carry PEMs as one line with literal \n sequences.
function unescapeNewlines(material: string): string {
  return material.includes('-----BEGIN') && !material.includes('\n') ? material.replace(/\\n/g, '\n') : material;
}

function stripFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

function kidFromFile(file: string): string {
  return path.basename(file).replace(/\.(pem|key|secret)$/, '');
}
