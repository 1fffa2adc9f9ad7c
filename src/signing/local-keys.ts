import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import { fileExists, writeFileAtomic, assertParentDirExists } from '../sys/fs.js';
import type { SigningAlg } from './algorithms.js';
import { readSignerRegistryIfExists, upsertSigner, writeSignerRegistry, type SignerEntry } from './registry.js';

const KID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export function assertKid(kid: string): void {
  if (!KID_PATTERN.test(kid)) {
    throw new UsageError({
      code: 'KID_INVALID',
      message: `key id "${kid}" is not allowed`,
      hint: 'use letters, digits and . _ : @ - (at most 128, no slashes)',
    });
  }
}

export function localKeyPath(dir: string, kid: string, alg: SigningAlg): string {
  return path.join(dir, 'keys', `${kid}${alg === 'hmac-sha256' ? '.secret' : '.pem'}`);
}

export interface CreatedLocalKey {
  kid: string;
  alg: SigningAlg;
  keyFile: string;
  /** The registry the public key went into; undefined for HMAC (secrets never go there). */
  signersPath?: string;
  publicKey?: string;
}

export interface CreateLocalKeyOptions {
  alg: SigningAlg;
  kid: string;
  dir: string;
  signersPath: string;
  description?: string;
  now?: Date;
}

/** Creates a key pair (or HMAC secret) in a 0600 file and publishes the public half. Never overwrites a key. */
export async function createLocalKey(opts: CreateLocalKeyOptions): Promise<CreatedLocalKey> {
  assertKid(opts.kid);
  const keyFile = localKeyPath(opts.dir, opts.kid, opts.alg);
  const other = localKeyPath(opts.dir, opts.kid, opts.alg === 'hmac-sha256' ? 'ed25519' : 'hmac-sha256');
  if ((await fileExists(keyFile)) || (await fileExists(other))) {
    throw new UsageError({
      code: 'KEY_EXISTS',
      message: `a local key "${opts.kid}" already exists`,
      hint: 'choose another --kid; rotating a key keeps the old one (agentkeys rotate-key)',
    });
  }
  const registry = await readSignerRegistryIfExists(opts.signersPath);
  if (registry.signers.some((s) => s.signerId === opts.kid)) {
    throw new UsageError({
      code: 'KEY_EXISTS',
      message: `signer "${opts.kid}" is already in ${opts.signersPath}`,
      hint: 'choose another --kid',
    });
  }
  await assertParentDirExists(opts.dir, 'key directory');
  await fsp.mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  if (opts.alg === 'hmac-sha256') {
    // The secret is used as UTF-8 text, exactly as Agent Manager uses AUDIT_SIGNING_PRIVATE_KEY.
    await writeFileAtomic(keyFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    return { kid: opts.kid, alg: opts.alg, keyFile };
  }
  const { privateKey, publicKey } = generateKeyPair(opts.alg);
  await writeFileAtomic(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const entry: SignerEntry = {
    signerId: opts.kid,
    algorithm: opts.alg,
    publicKey: publicPem,
    validFrom: (opts.now ?? new Date()).toISOString(),
  };
  if (opts.description) entry.description = opts.description;
  await writeSignerRegistry(opts.signersPath, upsertSigner(registry, entry));
  return { kid: opts.kid, alg: opts.alg, keyFile, signersPath: opts.signersPath, publicKey: publicPem };
}

export function generateKeyPair(alg: Exclude<SigningAlg, 'hmac-sha256'>): {
  privateKey: KeyObject;
  publicKey: KeyObject;
} {
  switch (alg) {
    case 'ed25519':
      return generateKeyPairSync('ed25519');
    case 'rsa-sha256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    case 'ecdsa-secp256k1':
      return generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  }
}
