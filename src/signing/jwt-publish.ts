// Where AgentIdP reads its JWT pair: a Secrets Manager secret (AgentIdP's Terraform keeps every
// secret there; ECS injects its JSON keys as variables) or the service's .env file. The JWKS
// with the keys still in their overlap goes beside the pair, so a service that serves JWT_JWKS
// keeps verifying tokens signed before the rotation.
import { createHash } from 'node:crypto';
import { rsaJwk } from './jwt-rotate.js';
import { AgentkeysError, UsageError } from '../errors.js';
import { setEnvValue } from '../config/env-writeback.js';
import type { SecretsApi } from '../aws/secrets.js';
import { messageOf } from '../sys/operator-file.js';

/** The settings AgentIdP starts from, PEMs on one line with \n (as its .env and the doctor read them). */
export interface JwtSettings {
  JWT_PRIVATE_KEY: string;
  JWT_PUBLIC_KEY: string;
  JWT_KEY_ID: string;
  JWT_JWKS: string;
}

export function jwtSettings(pair: { kid: string; privatePem: string; publicPem: string; jwks: unknown }): JwtSettings {
  const oneLine = (pem: string) => pem.trim().replace(/\n/g, '\\n');
  return {
    JWT_PRIVATE_KEY: oneLine(pair.privatePem),
    JWT_PUBLIC_KEY: oneLine(pair.publicPem),
    JWT_KEY_ID: pair.kid,
    JWT_JWKS: JSON.stringify(pair.jwks),
  };
}

/**
 * The secret's JSON object with the four JWT keys set and every other key kept. A new version is
 * written only when something differs; the token makes a retried write the same version.
 */
export async function publishToSecret(
  api: SecretsApi,
  secretId: string,
  settings: JwtSettings,
): Promise<{ changed: boolean; version?: string }> {
  const current = await api.getSecretString(secretId);
  if (current === undefined)
    throw new UsageError({
      code: 'SECRET_NOT_FOUND',
      message: `there is no secret ${secretId} (or it has no string value)`,
      hint: "name the secret AgentIdP's task reads (Terraform creates it): --publish-secret agentidp/prod",
    });
  const object = parseSecretObject(secretId, current);
  const merged = { ...object, ...settings };
  if (Object.entries(settings).every(([k, v]) => object[k] === v)) return { changed: false };
  const value = JSON.stringify(merged);
  const token = createHash('sha256').update(value).digest('hex');
  return { changed: true, version: await api.putSecretString(secretId, value, token) };
}

function parseSecretObject(secretId: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError({
      code: 'SECRET_FORMAT_UNSUPPORTED',
      message: `${secretId} is not a JSON object of settings, so the JWT keys cannot be set in it without losing it`,
      hint: 'keep AgentIdP\'s settings as a JSON object secret ({"JWT_PRIVATE_KEY": …}), or use --publish-env FILE',
    });
  return value as Record<string, unknown>;
}

/** The .env file: each setting replaced in place (or appended), comments and mode kept, atomically. */
export async function publishToEnvFile(file: string, settings: JwtSettings): Promise<boolean> {
  let changed = false;
  for (const [key, value] of Object.entries(settings)) {
    // PEMs in double quotes (dotenv turns \n into newlines); the JWKS in single quotes (it holds ").
    const quoted = key === 'JWT_JWKS' ? `'${value}'` : `"${value}"`;
    changed = (await setEnvValue(file, key, quoted)) || changed;
  }
  return changed;
}

const JWKS_LIMIT = 1 << 20;

/**
 * Does the running service's JWKS serve this public key? Matched by the key itself (n, e), not
 * the kid: AgentIdP may name its keys its own way. The answer is untrusted input: bounded, and
 * anything but a JWKS is a named error.
 */
export async function servedKeys(url: string, timeoutMs = 5000): Promise<JwksKey[]> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    throw jwksError(url, `unreachable (${messageOf(err)})`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw jwksError(url, `answered HTTP ${res.status}`);
  }
  return parseJwks(await boundedText(res, url), url);
}

/** The body up to JWKS_LIMIT bytes: a service answering gigabytes is refused, never buffered. */
async function boundedText(res: Response, url: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).length;
    if (size > JWKS_LIMIT) {
      await res.body?.cancel().catch(() => undefined);
      throw jwksError(url, `answered more than ${JWKS_LIMIT} bytes, more than a JWKS`);
    }
    chunks.push(chunk as Uint8Array);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One key of a JWKS as agentkeys reads it: its type, and the string members it looks at. */
export interface JwksKey {
  kty: string;
  kid?: string;
  alg?: string;
  n?: string;
  e?: string;
}

const JWK_STRINGS = ['kid', 'alg', 'n', 'e'] as const;

/**
 * The keys of a JWKS answer (what `rotate-key --jwks-url` waits for and doctor's `oidc.jwks`
 * lists); an entry without a string kty is skipped, anything but a JWKS refused by name.
 */
export function parseJwks(text: string, url: string): JwksKey[] {
  if (text.length > JWKS_LIMIT) throw jwksError(url, `answered ${text.length} bytes, more than a JWKS`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw jwksError(url, 'answered something that is not JSON');
  }
  const keys = typeof body === 'object' && body !== null ? (body as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw jwksError(url, 'answered JSON without a "keys" array');
  return keys
    .filter((k): k is Record<string, unknown> => typeof k === 'object' && k !== null && typeof k.kty === 'string')
    .map((k) => {
      const key: JwksKey = { kty: k.kty as string };
      for (const m of JWK_STRINGS) if (typeof k[m] === 'string') key[m] = k[m];
      return key;
    });
}

function jwksError(url: string, what: string): AgentkeysError {
  return new AgentkeysError({
    code: 'JWKS_UNREADABLE',
    message: `the JWKS at ${url} ${what}`,
    hint: "the service's JWKS URL, e.g. https://idp.example.com/.well-known/jwks.json",
  });
}

export interface ServedReport {
  /** Seconds until the new key was served. */
  afterSeconds: number;
  /** The retiring kids the service still serves (tokens they signed keep verifying). */
  retiringServed: string[];
  retiringMissing: string[];
}

/**
 * Polls the service's JWKS until it serves the new key (a restart takes its time), or fails with
 * JWKS_NOT_SERVED after waitMs. An unreachable or garbled answer counts as not yet, until the end.
 */
export async function waitUntilServed(
  url: string,
  pair: { kid: string; publicPem: string; jwks: { keys: Record<string, string>[] }; retiring: string[] },
  opts: { waitMs: number; intervalMs?: number; onWait?: (seconds: number) => void },
): Promise<ServedReport> {
  const want = rsaJwk(pair.publicPem) as { n: string; e: string };
  const started = Date.now();
  let last: unknown;
  for (;;) {
    const served = await servedKeys(url).catch((err: unknown) => {
      last = err;
      return undefined;
    });
    const has = (k: { n: string; e: string }) => served?.some((s) => s.n === k.n && s.e === k.e) ?? false;
    if (served && has(want)) {
      const retiring = pair.jwks.keys.filter((k) => pair.retiring.includes(k.kid!));
      return {
        afterSeconds: Math.round((Date.now() - started) / 1000),
        retiringServed: retiring.filter((k) => has({ n: k.n!, e: k.e! })).map((k) => k.kid!),
        retiringMissing: retiring.filter((k) => !has({ n: k.n!, e: k.e! })).map((k) => k.kid!),
      };
    }
    if (served) last = undefined;
    const elapsed = Date.now() - started;
    if (elapsed >= opts.waitMs)
      throw new AgentkeysError({
        code: 'JWKS_NOT_SERVED',
        message:
          `${url} does not serve the new key ${pair.kid} after ${Math.round(elapsed / 1000)} s` +
          (last instanceof Error ? ` (last answer: ${last.message})` : ''),
        hint:
          'the pair is published; check that the service restarted and reads it, then run the same ' +
          'command again (it resumes: no new key)',
      });
    opts.onWait?.(Math.round(elapsed / 1000));
    await new Promise((r) => setTimeout(r, Math.min(opts.intervalMs ?? 2000, opts.waitMs - elapsed)));
  }
}
