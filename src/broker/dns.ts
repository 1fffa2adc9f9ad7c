// Does a hostname resolve to the EIP on the public internet? Asked over DNS-over-HTTPS (JSON, as
// dns.google and cloudflare-dns.com answer it), because the laptop's resolver may
// be rewritten (WARP, Zscaler, Tailscale answer 198.18.x.y), and Let's Encrypt sees public DNS.
import { httpsGet } from '../sys/https.js';
import { messageOf } from '../sys/operator-file.js';

export const DEFAULT_DOH_URL = 'https://dns.google/resolve';

export type Resolution = { addresses: string[] } | { error: string };
export type ResolveA = (host: string) => Promise<Resolution>;

const RCODES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 5: 'REFUSED' };

export function dohResolver(url = DEFAULT_DOH_URL, get = httpsGet): ResolveA {
  return async (host) => {
    let answer;
    try {
      answer = await get(`${url}?name=${encodeURIComponent(host)}&type=A`, { timeoutMs: 5000, maxBytes: 65_536 });
    } catch (err) {
      return { error: `DNS-over-HTTPS ${url} unreachable: ${messageOf(err)}` };
    }
    if (answer.status !== 200) return { error: `DNS-over-HTTPS ${url} answered HTTP ${answer.status}` };
    return parseDohAnswer(answer.body);
  };
}

/** The A records of a DoH JSON answer (RFC 8427-style fields: Status, Answer[].type, .data). */
export function parseDohAnswer(body: string): Resolution {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { error: 'the DNS-over-HTTPS answer is not JSON' };
  }
  const { Status, Answer } = (doc ?? {}) as { Status?: unknown; Answer?: unknown };
  if (typeof Status !== 'number') return { error: 'the DNS-over-HTTPS answer has no Status' };
  if (Status !== 0) return { error: RCODES[Status] ?? `DNS status ${Status}` };
  const records = Array.isArray(Answer) ? (Answer as { type?: unknown; data?: unknown }[]) : [];
  const addresses = records
    .filter((r) => r.type === 1 && typeof r.data === 'string')
    .map((r) => r.data as string)
    .filter((a) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a));
  return addresses.length > 0 ? { addresses } : { error: 'no A record' };
}
