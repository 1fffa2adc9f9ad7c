// A KMS signing key's metadata and public key, kept for a short time in .agentkeys/cache/kms so a
// script that signs one event per call pays one Sign, not DescribeKey + GetPublicKey + Sign
// (issue 24). What is kept can be read again at any time, so any doubt is a miss: an entry that
// does not parse, is too old, or was written for another endpoint, region or credential is
// ignored. A planted public key gains nothing: every signature is checked against it before use
// (a wrong key fails closed), and a key is fetched fresh before it is published or compared with
// the registry.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { KeyMetadata } from '../aws/kms.js';
import { writeFileAtomic } from '../sys/fs.js';

export const DEFAULT_KEY_CACHE_TTL_MS = 300_000;

export interface CachedKey {
  metadata: KeyMetadata;
  publicKeyDer?: Buffer;
}

export interface KmsKeyCache {
  get(ref: string): Promise<CachedKey | undefined>;
  put(ref: string, key: CachedKey): Promise<void>;
}

// Only what the signer reads; everything else DescribeKey says is left out of the file.
const KEPT = ['KeyId', 'Arn', 'KeySpec', 'KeyUsage', 'KeyState', 'MultiRegion'] as const;

export function keyCacheDir(stateDir: string): string {
  return path.join(stateDir, 'cache', 'kms');
}

/** Forgets every cached key: after a rotation moves an alias, or a key changes state. */
export async function clearKeyCache(stateDir: string): Promise<void> {
  await fsp.rm(keyCacheDir(stateDir), { recursive: true, force: true });
}

/**
 * `scope` names where the keys live (endpoint, region, credential): an alias means another key in
 * another account, so entries are filed under it as well as the key reference.
 */
export function fileKeyCache(stateDir: string, scope: string, ttlMs: number, now = () => Date.now()): KmsKeyCache {
  const dir = keyCacheDir(stateDir);
  const fileOf = (ref: string) =>
    path.join(dir, `${createHash('sha256').update(`${scope}\0${ref}`).digest('hex').slice(0, 32)}.json`);
  return {
    async get(ref) {
      if (ttlMs <= 0) return undefined;
      let text: string;
      try {
        text = await fsp.readFile(fileOf(ref), 'utf8');
      } catch {
        return undefined;
      }
      return parseEntry(text, scope, ref, now() - ttlMs);
    },
    async put(ref, key) {
      if (ttlMs <= 0) return;
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      const metadata = Object.fromEntries(
        KEPT.flatMap((k) => (key.metadata[k] === undefined ? [] : [[k, key.metadata[k]]])),
      );
      const entry = {
        v: 1,
        scope,
        ref,
        fetchedAt: now(),
        metadata,
        ...(key.publicKeyDer ? { publicKey: key.publicKeyDer.toString('base64') } : {}),
      };
      await writeFileAtomic(fileOf(ref), `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    },
  };
}

function parseEntry(text: string, scope: string, ref: string, notBefore: number): CachedKey | undefined {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || v.v !== 1 || v.scope !== scope || v.ref !== ref) return undefined;
  if (typeof v.fetchedAt !== 'number' || v.fetchedAt < notBefore || v.fetchedAt > notBefore + 86_400_000)
    return undefined;
  const meta = v.metadata as Record<string, unknown> | null;
  if (typeof meta !== 'object' || meta === null) return undefined;
  if (!KEPT.every((k) => meta[k] === undefined || typeof meta[k] === (k === 'MultiRegion' ? 'boolean' : 'string')))
    return undefined;
  if (typeof meta.KeyId !== 'string' || typeof meta.Arn !== 'string' || typeof meta.KeySpec !== 'string')
    return undefined;
  if (v.publicKey !== undefined && (typeof v.publicKey !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(v.publicKey)))
    return undefined;
  return {
    metadata: meta as unknown as KeyMetadata,
    ...(typeof v.publicKey === 'string' ? { publicKeyDer: Buffer.from(v.publicKey, 'base64') } : {}),
  };
}
