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
    const answer = await dohGet(url, host, 'A', get);
    return 'error' in answer ? answer : parseDohAnswer(answer.body);
  };
}

/** The zone's NS records as public DNS has them (preflight: is the delegation to Route 53 in place?). */
export type ResolveNs = (zone: string) => Promise<{ nameServers: string[] } | { error: string }>;

export function dohNsResolver(url = DEFAULT_DOH_URL, get = httpsGet): ResolveNs {
  return async (zone) => {
    const answer = await dohGet(url, zone, 'NS', get);
    if ('error' in answer) return answer;
    const parsed = parseDohRecords(answer.body, 2);
    if ('error' in parsed) return parsed;
    return { nameServers: parsed.data.map((d) => d.toLowerCase().replace(/\.$/, '')) };
  };
}

async function dohGet(url: string, name: string, type: 'A' | 'NS', get: typeof httpsGet) {
  let answer;
  try {
    answer = await get(`${url}?name=${encodeURIComponent(name)}&type=${type}`, { timeoutMs: 5000, maxBytes: 65_536 });
  } catch (err) {
    return { error: `DNS-over-HTTPS ${url} unreachable: ${messageOf(err)}` };
  }
  if (answer.status !== 200) return { error: `DNS-over-HTTPS ${url} answered HTTP ${answer.status}` };
  return answer;
}

/** The A records of a DoH JSON answer (RFC 8427-style fields: Status, Answer[].type, .data). */
export function parseDohAnswer(body: string): Resolution {
  const parsed = parseDohRecords(body, 1);
  if ('error' in parsed) return parsed;
  const addresses = parsed.data.filter((a) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a));
  return addresses.length > 0 ? { addresses } : { error: 'no A record' };
}

/** The data of the records of one type (1 A, 2 NS) in a DoH JSON answer, or why there are none. */
function parseDohRecords(body: string, type: number): { data: string[] } | { error: string } {
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
  const data = records.filter((r) => r.type === type && typeof r.data === 'string').map((r) => r.data as string);
  return data.length > 0 ? { data } : { error: type === 2 ? 'no NS record' : 'no A record' };
}
