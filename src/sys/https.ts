// One HTTPS GET for everything agentkeys reads off the network outside AWS (the doctor's issuer
// probes, a signer registry or a signing key named by URL): TLS verified by the operator's trust
// store, no redirects, a timeout and a size cap, so a hostile or broken server cannot hang or
// flood a command.
import { get } from 'node:https';
import { UsageError } from '../errors.js';
import { messageOf } from './operator-file.js';

export interface HttpsAnswer {
  status: number;
  body: string;
}

export interface HttpsGetOptions {
  timeoutMs?: number;
  maxBytes?: number;
  /** Connect here instead of the URL's host (curl's --connect-to), keeping its name for SNI and TLS. */
  connectTo?: { host: string; port: number };
}

export const DEFAULT_MAX_BYTES = 1 << 20;

export function httpsGet(url: string, opts: HttpsGetOptions = {}): Promise<HttpsAnswer> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const target = opts.connectTo
      ? {
          hostname: opts.connectTo.host,
          port: opts.connectTo.port,
          path: `${u.pathname}${u.search}`,
          servername: u.hostname,
          headers: { host: u.host },
        }
      : { hostname: u.hostname, port: u.port || 443, path: `${u.pathname}${u.search}` };
    // `timeout` is an idle timeout: a server dripping a byte a second never trips it. The
    // deadline covers the whole exchange, connection to last byte.
    const deadline = setTimeout(() => req.destroy(new Error(`no complete answer in ${timeoutMs} ms`)), timeoutMs);
    const req = get({ ...target, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) req.destroy(new Error(`the answer is over ${maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(deadline);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (err) => {
      clearTimeout(deadline);
      reject(err);
    });
  });
}

/**
 * A document named by URL in the settings (KERNEL_PUBLIC_KEYS_URL, AUDIT_SIGNING_KEY_URL): https
 * only, 200 only, at most 1 MiB; each refusal is its own code, naming the setting.
 */
export async function fetchSettingText(url: string, setting: string): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError({ code: 'SETTING_URL_INVALID', message: `${setting} "${url}" is not a URL` });
  }
  if (parsed.protocol !== 'https:')
    throw new UsageError({
      code: 'SETTING_URL_INVALID',
      message: `${setting} must be an https:// URL, not ${parsed.protocol}//`,
      hint: 'serve it over TLS, or use the file setting instead',
    });
  let answer: HttpsAnswer;
  try {
    answer = await httpsGet(url);
  } catch (err) {
    const message = messageOf(err);
    throw new UsageError({
      code: /over \d+ bytes/.test(message) ? 'SETTING_URL_TOO_LARGE' : 'SETTING_URL_UNREACHABLE',
      message: `${setting} ${url}: ${message}`,
      hint: 'offline or behind a proxy? use the file setting (a local copy) instead',
      cause: err,
    });
  }
  if (answer.status !== 200)
    throw new UsageError({
      code: 'SETTING_URL_UNREACHABLE',
      message: `${setting} ${url} answered HTTP ${answer.status}`,
      hint: 'check the URL and that the server serves it',
    });
  return answer.body;
}
