import { createPublicKey, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { AgentkeysError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../sys/fs.js';
import { duplicateMember } from '../audit/canonical.js';
import { algorithmOfKey, normalizeAlgorithm, type SigningAlg } from './algorithms.js';
import { errnoCode, messageOf } from '../sys/operator-file.js';

/** One signer as agentkeys writes it: the single shape of product.md. */
export interface SignerEntry {
  signerId: string;
  algorithm: SigningAlg;
  /** SPKI PEM; absent for HMAC signers, which verify with a secret or through KMS. */
  publicKey?: string;
  keyArn?: string;
  validFrom?: string;
  validTo?: string;
  description?: string;
  /** 'kms': an HMAC key held by KMS, checked with VerifyMac (verify-audit --kms-verify). */
  verifyVia?: 'kms';
}

export interface SignerRegistry {
  signers: SignerEntry[];
}

const ID_FIELDS = ['signerId', 'signer_kid', 'id'] as const;
const KEY_FIELDS = ['publicKey', 'public_key_pem', 'key'] as const;
const ALG_FIELDS = ['algorithm', 'alg'] as const;
const KNOWN_FIELDS = new Set<string>([
  ...ID_FIELDS,
  ...KEY_FIELDS,
  ...ALG_FIELDS,
  'keyArn',
  'validFrom',
  'validTo',
  'notBefore',
  'notAfter',
  'deployedAt',
  'createdAt',
  'description',
  'verifyVia',
]);
// Ed25519 SPKI header for a raw 32-byte public key (RFC 8410), the Go registry's shape.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * Parses every signers.json shape upstream tools produce (docs/audit-format.md §6):
 * `{signers:[…]}` with camelCase or snake_case fields, a top-level array, the flat
 * `{"<kid>": "<PEM>"}` map, and both mixed in one file. The file is untrusted input: every
 * problem is collected and reported at once as REGISTRY_INVALID.
 */
export function parseSignerRegistry(text: string, source: string): SignerRegistry {
  const parsed = parseSignerRegistryLenient(text, source);
  if (parsed.problems.length > 0) throw registryError(source, parsed.problems);
  return parsed.registry;
}

export interface LenientRegistry {
  registry: SignerRegistry;
  /** signerId → why its entry is unusable; events it signed become findings. */
  rejected: Record<string, string>;
  problems: string[];
}

/**
 * The verifier's reading: a bad entry (unknown algorithm, unreadable key) disables only that
 * signer, so its events are reported as findings with their index instead of aborting the run.
 * A file that is not a registry at all is still an error.
 */
export function parseSignerRegistryLenient(text: string, source: string): LenientRegistry {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw registryError(source, [`not JSON: ${messageOf(err)}`]);
  }
  const dup = duplicateMember(text);
  if (dup !== undefined)
    throw registryError(source, [`${JSON.stringify(dup)} appears twice in one object: a kid is bound to one key`]);
  const problems: string[] = [];
  const raw = collectRawEntries(doc, problems);
  if (problems.length > 0) throw registryError(source, problems);
  const signers: SignerEntry[] = [];
  const rejected: Record<string, string> = {};
  for (const { where, value, impliedId } of raw) {
    const before = problems.length;
    const entry = normalizeEntry(value, impliedId, where, problems);
    if (entry && problems.length === before) signers.push(entry);
    const kid = idOf(value, impliedId);
    if (problems.length > before && kid) rejected[kid] = problems.slice(before).join('; ');
  }
  // A kid bound to two keys is refused, not resolved: neither key verifies its events.
  for (const kid of checkDuplicates(signers, problems)) {
    signers.splice(0, signers.length, ...signers.filter((s) => s.signerId !== kid));
    rejected[kid] = 'it is listed twice with different keys, and a kid is bound to one key';
  }
  return { registry: { signers }, rejected, problems };
}

function idOf(value: unknown, impliedId: string | undefined): string | undefined {
  return isObject(value) ? (firstString(value, ID_FIELDS) ?? impliedId) : impliedId;
}

interface RawEntry {
  where: string;
  value: unknown;
  impliedId?: string;
}

function collectRawEntries(doc: unknown, problems: string[]): RawEntry[] {
  if (Array.isArray(doc)) return doc.map((value, i) => ({ where: `[${i}]`, value }));
  if (!isObject(doc)) {
    problems.push('top level must be an object or an array');
    return [];
  }
  const out: RawEntry[] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'signers') {
      if (!Array.isArray(value)) problems.push('"signers" must be an array');
      else value.forEach((v, i) => out.push({ where: `signers[${i}]`, value: v }));
    } else if (typeof value === 'string' || isObject(value)) {
      // The flat map written by update-signers-from-kms.sh, possibly next to a signers array.
      out.push({ where: JSON.stringify(key), value, impliedId: key });
    } else {
      problems.push(`${JSON.stringify(key)}: expected a PEM string or a signer object`);
    }
  }
  return out;
}

function normalizeEntry(
  value: unknown,
  impliedId: string | undefined,
  where: string,
  problems: string[],
): SignerEntry | undefined {
  const fields: Record<string, unknown> =
    typeof value === 'string' ? { publicKey: value } : (value as Record<string, unknown>);
  if (!isObject(fields)) {
    problems.push(`${where}: expected an object`);
    return undefined;
  }
  const unknown = Object.keys(fields).filter((k) => !KNOWN_FIELDS.has(k));
  if (unknown.length > 0) problems.push(`${where}: unknown field(s) ${unknown.join(', ')}`);
  const signerId = firstString(fields, ID_FIELDS) ?? impliedId;
  if (!signerId) {
    problems.push(`${where}: no signerId`);
    return undefined;
  }
  const label = `${where} (${signerId})`;
  const statedAlg = firstString(fields, ALG_FIELDS);
  const alg = statedAlg === undefined ? undefined : normalizeAlgorithm(statedAlg);
  if (statedAlg !== undefined && !alg) {
    problems.push(`${label}: unknown algorithm "${statedAlg}"`);
    return undefined;
  }
  const keyText = firstString(fields, KEY_FIELDS);
  const entry =
    alg === 'hmac-sha256'
      ? hmacEntry(signerId, keyText, label, problems)
      : asymmetricEntry(signerId, alg, keyText, label, problems);
  if (!entry) return undefined;
  copyMetadata(fields, entry, label, problems);
  return entry;
}

function hmacEntry(
  signerId: string,
  keyText: string | undefined,
  label: string,
  problems: string[],
): SignerEntry | undefined {
  if (keyText !== undefined) {
    problems.push(
      `${label}: HMAC secrets never go into signers.json; remove the key and pass --hmac-key ${signerId}=FILE`,
    );
    return undefined;
  }
  return { signerId, algorithm: 'hmac-sha256' };
}

function asymmetricEntry(
  signerId: string,
  stated: SigningAlg | undefined,
  keyText: string | undefined,
  label: string,
  problems: string[],
): SignerEntry | undefined {
  if (keyText === undefined) {
    problems.push(`${label}: no public key`);
    return undefined;
  }
  let key: KeyObject;
  try {
    key = decodePublicKey(keyText);
  } catch {
    problems.push(`${label}: public key is neither an SPKI PEM nor base64 DER/raw Ed25519`);
    return undefined;
  }
  const actual = algorithmOfKey(key);
  if (!actual) {
    problems.push(`${label}: unsupported key type ${key.asymmetricKeyType}`);
    return undefined;
  }
  if (stated && stated !== actual) {
    problems.push(`${label}: algorithm says ${stated} but the key is ${actual}`);
    return undefined;
  }
  return { signerId, algorithm: actual, publicKey: key.export({ type: 'spki', format: 'pem' }).toString() };
}

function copyMetadata(fields: Record<string, unknown>, entry: SignerEntry, label: string, problems: string[]): void {
  const validFrom = firstString(fields, ['validFrom', 'notBefore']);
  const validTo = firstString(fields, ['validTo', 'notAfter']);
  for (const [name, value] of [
    ['validFrom', validFrom],
    ['validTo', validTo],
  ] as const) {
    if (value !== undefined && Number.isNaN(Date.parse(value)))
      problems.push(`${label}: ${name} "${value}" is not a timestamp`);
  }
  if (validFrom) entry.validFrom = validFrom;
  if (validTo) entry.validTo = validTo;
  const keyArn = firstString(fields, ['keyArn']);
  if (keyArn) entry.keyArn = keyArn;
  const description = firstString(fields, ['description']);
  if (description) entry.description = description;
  const verifyVia = firstString(fields, ['verifyVia']);
  if (verifyVia === 'kms') entry.verifyVia = 'kms';
  else if (verifyVia !== undefined) problems.push(`${label}: verifyVia "${verifyVia}" is not kms`);
}

export function decodePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) return createPublicKey(trimmed);
  const der = Buffer.from(trimmed, 'base64');
  if (der.length === 32)
    return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, der]), format: 'der', type: 'spki' });
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/** Kids listed twice with different keys (each a problem); identical repeats collapse into one. */
function checkDuplicates(signers: SignerEntry[], problems: string[]): Set<string> {
  const seen = new Map<string, SignerEntry>();
  const conflicting = new Set<string>();
  for (const entry of signers) {
    const prior = seen.get(entry.signerId);
    if (prior && (prior.publicKey !== entry.publicKey || prior.algorithm !== entry.algorithm)) {
      if (!conflicting.has(entry.signerId)) problems.push(`signer ${entry.signerId} appears twice with different keys`);
      conflicting.add(entry.signerId);
    }
    seen.set(entry.signerId, entry);
  }
  // Identical duplicates (the map shape repeating an array entry) collapse into one.
  signers.splice(0, signers.length, ...dedupe(signers));
  return conflicting;
}

function dedupe(signers: SignerEntry[]): SignerEntry[] {
  const byId = new Map<string, SignerEntry>();
  for (const s of signers) byId.set(s.signerId, { ...byId.get(s.signerId), ...s });
  return [...byId.values()];
}

function firstString(fields: Record<string, unknown>, names: readonly string[]): string | undefined {
  for (const name of names) {
    const v = fields[name];
    if (typeof v === 'string' && v.length > 0) return v;
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function registryError(source: string, problems: string[]): UsageError {
  return new UsageError({
    code: 'REGISTRY_INVALID',
    message: `${source}: ${problems.length} problem(s) in the signer registry`,
    details: problems,
    hint: 'fix the listed entries; agentkeys writes {"signers":[{"signerId","algorithm","publicKey"}]}',
  });
}

export async function readSignerRegistry(file: string): Promise<SignerRegistry> {
  return parseSignerRegistry(await readRegistryText(file), file);
}

/**
 * Where a verifier reads signers from: a file (--signers, KERNEL_PUBLIC_KEYS_PATH) or text already
 * in hand (KERNEL_PUBLIC_KEYS_JSON, or what KERNEL_PUBLIC_KEYS_URL served), named for messages.
 */
export type RegistryInput = string | { text: string; source: string };

export const registrySourceName = (input: RegistryInput) => (typeof input === 'string' ? input : input.source);

export async function readRegistryText(input: RegistryInput): Promise<string> {
  if (typeof input !== 'string') return input.text;
  const file = input;
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new UsageError({
        code: 'REGISTRY_NOT_FOUND',
        message: `signer registry ${file} does not exist`,
        hint:
          'pass --signers FILE (HMAC-signed logs: --hmac-key KID=FILE instead), or ' +
          'create a key with: agentkeys keys create --local --alg ed25519 --kid audit-1',
      });
    }
    if (errnoCode(err) === 'EISDIR')
      throw new UsageError({
        code: 'PATH_IS_DIRECTORY',
        message: `signer registry ${file} is a folder`,
        hint: `name the registry file in it: --signers ${file.replace(/\/$/, '')}/signers.json`,
      });
    throw new AgentkeysError({
      code: 'REGISTRY_UNREADABLE',
      message: `cannot read ${file}: ${messageOf(err)}`,
      cause: err,
    });
  }
}

/** Reads the registry if it exists; an absent file is an empty registry. */
export async function readSignerRegistryIfExists(file: string): Promise<SignerRegistry> {
  try {
    return await readSignerRegistry(file);
  } catch (err) {
    if (err instanceof AgentkeysError && err.code === 'REGISTRY_NOT_FOUND') return { signers: [] };
    throw err;
  }
}

/** Adds or replaces one signer, keeping every other entry and its metadata. */
export function upsertSigner(registry: SignerRegistry, entry: SignerEntry): SignerRegistry {
  const others = registry.signers.filter((s) => s.signerId !== entry.signerId);
  return { signers: [...others, entry] };
}

export async function writeSignerRegistry(file: string, registry: SignerRegistry): Promise<void> {
  const signers = registry.signers.map((s) => dropUndefined(s));
  await writeFileAtomic(file, `${JSON.stringify({ signers }, null, 2)}\n`);
}

function dropUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
