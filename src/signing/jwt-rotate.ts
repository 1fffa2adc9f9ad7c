import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { AgentkeysError } from '../errors.js';
import { writeFileAtomic } from '../sys/fs.js';
import { errnoCode, messageOf } from '../sys/operator-file.js';

/** The AgentIdP JWT pair (JWT_PRIVATE_KEY, JWT_PUBLIC_KEY): RS256, rotated with an overlap in which both verify. */
export interface JwtState {
  current: string;
  /** Keys still published in the JWKS until the given time. */
  retiring: { kid: string; until: string }[];
  /**
   * The kid last published end to end (secret or .env written, service restarted, its JWKS
   * serving it). A current kid not yet published is a rotation to resume, not to repeat.
   */
  published?: string;
}

/** The current pair of DIR, as published: PEMs, kid and the JWKS with the keys in overlap. */
export interface JwtPair {
  kid: string;
  privatePem: string;
  publicPem: string;
  jwks: { keys: Record<string, string>[] };
  /** Kids in the JWKS besides the current one (their overlap not yet over). */
  retiring: string[];
}

export interface JwtRotation {
  kid: string;
  privateKeyFile: string;
  jwksFile: string;
  published: string[];
  pruned: string[];
}

/**
 * Creates a new RSA-2048 pair (private key 0600), makes it current, keeps the previous key in
 * jwks.json for the overlap, and drops keys whose overlap has ended. The JWKS and state are
 * written last and atomically, so an interrupted rotation leaves the old JWKS in force.
 */
export async function rotateJwtKeys(dir: string, overlapDays: number, now = new Date()): Promise<JwtRotation> {
  const state = await readState(dir);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = jwkThumbprint(publicKey);
  const privateKeyFile = path.join(dir, 'keys', `${kid}.pem`);
  await fsp.mkdir(path.dirname(privateKeyFile), { recursive: true, mode: 0o700 });
  await writeFileAtomic(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFileAtomic(path.join(dir, 'keys', `${kid}.pub.pem`), publicKey.export({ type: 'spki', format: 'pem' }));
  const until = new Date(now.getTime() + overlapDays * 86_400_000).toISOString();
  const retiring = [...(state?.retiring ?? []), ...(state ? [{ kid: state.current, until }] : [])];
  const kept = retiring.filter((r) => Date.parse(r.until) > now.getTime());
  const pruned = retiring.filter((r) => !kept.includes(r)).map((r) => r.kid);
  const published = [kid, ...kept.map((r) => r.kid)];
  const jwks = { keys: await Promise.all(published.map((k) => publicJwk(dir, k))) };
  const jwksFile = path.join(dir, 'jwks.json');
  await writeFileAtomic(jwksFile, `${JSON.stringify(jwks, null, 2)}\n`);
  await writeState(dir, { current: kid, retiring: kept });
  return { kid, privateKeyFile, jwksFile, published, pruned };
}

async function writeState(dir: string, state: JwtState): Promise<void> {
  await writeFileAtomic(path.join(dir, 'jwt-state.json'), `${JSON.stringify(state, null, 2)}\n`);
}

/** The state of DIR, or undefined before its first rotation. */
export const jwtState = readState;

export async function currentPair(dir: string): Promise<JwtPair> {
  const state = await readState(dir);
  if (!state)
    throw new AgentkeysError({
      code: 'JWT_STATE_UNREADABLE',
      message: `${path.join(dir, 'jwt-state.json')} does not exist: ${dir} has no JWT pair yet`,
      hint: 'rotate first: agentkeys rotate-key --jwt DIR --yes',
    });
  const read = (file: string) => fsp.readFile(path.join(dir, 'keys', file), 'utf8');
  const jwks = JSON.parse(await fsp.readFile(path.join(dir, 'jwks.json'), 'utf8')) as JwtPair['jwks'];
  return {
    kid: state.current,
    privatePem: await read(`${state.current}.pem`),
    publicPem: await read(`${state.current}.pub.pem`),
    jwks,
    retiring: state.retiring.map((r) => r.kid),
  };
}

/** Recorded once the pair is published, the service restarted and its JWKS serving the kid. */
export async function markPublished(dir: string, kid: string): Promise<void> {
  const state = await readState(dir);
  if (state && state.current === kid) await writeState(dir, { ...state, published: kid });
}

async function publicJwk(dir: string, kid: string): Promise<Record<string, string>> {
  return rsaJwk(await fsp.readFile(path.join(dir, 'keys', `${kid}.pub.pem`), 'utf8'), kid);
}

/**
 * An RSA public key as a JWKS carries it (RS256, for signatures); kid by default its RFC 7638
 * thumbprint. The one place agentkeys writes a JWK: the JWT pair's JWKS, the broker's OIDC key.
 */
export function rsaJwk(key: KeyObject | string, kid?: string): Record<string, string> {
  const { e, kty, n } = publicOf(key).export({ format: 'jwk' }) as Record<string, string>;
  return { kty: kty!, n: n!, e: e!, kid: kid ?? jwkThumbprint(key), alg: 'RS256', use: 'sig' };
}

// createPublicKey takes a PEM or a private key, not a public KeyObject.
const publicOf = (key: KeyObject | string): KeyObject =>
  typeof key !== 'string' && key.type === 'public' ? key : createPublicKey(key);

/** RFC 7638 thumbprint: a kid derived from the key itself. */
function jwkThumbprint(key: KeyObject | string): string {
  const { e, kty, n } = publicOf(key).export({ format: 'jwk' }) as Record<string, string>;
  return createHash('sha256').update(JSON.stringify({ e, kty, n })).digest('base64url');
}

async function readState(dir: string): Promise<JwtState | undefined> {
  try {
    return JSON.parse(await fsp.readFile(path.join(dir, 'jwt-state.json'), 'utf8')) as JwtState;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new AgentkeysError({
      code: 'JWT_STATE_UNREADABLE',
      message: `cannot read ${path.join(dir, 'jwt-state.json')}: ${messageOf(err)}`,
      cause: err,
    });
  }
}
