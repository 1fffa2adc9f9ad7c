// Connection strings are shown in messages, plans and doctor output; their credentials never are.
// The pg driver's own parser (pg-connection-string) says what counts as a credential, so a URL the
// driver would read a password from (userinfo, ?password=, ?sslpassword=) is never shown with it,
// even when the password holds a raw '@' or '/'.
import { parse } from 'pg-connection-string';

const SECRET_PARAM = /pass|secret|token|key/i;
const MASK = '***';

/** The URL with every credential replaced by ***; text that is no URL comes back unchanged. */
export function redactUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  let shown = maskWithUrlParser(url);
  // Whatever the driver would take as a secret must not survive in any encoding.
  for (const secret of credentialsOf(url)) {
    for (const form of new Set([secret, encodeURIComponent(secret), encodeURI(secret)]))
      shown = shown.split(form).join(MASK);
  }
  return shown;
}

function maskWithUrlParser(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = MASK;
    for (const key of [...u.searchParams.keys()]) if (SECRET_PARAM.test(key)) u.searchParams.set(key, MASK);
    return u.toString().replace(/%2A%2A%2A/g, MASK);
  } catch {
    // What WHATWG URL refuses (a socket path after the '@'): mask from the user's colon to the
    // last '@', and every secret-looking parameter.
    return url
      .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^]*@/i, `$1${MASK}@`)
      .replace(/([?&][^=&]*(?:pass|secret|token|key)[^=&]*=)[^&#]*/gi, `$1${MASK}`);
  }
}

/** Values pg-connection-string would use as credentials (for postgres URLs; others: the userinfo password). */
function credentialsOf(url: string): string[] {
  const out: string[] = [];
  if (/^postgres(ql)?:/i.test(url)) {
    try {
      const config = parse(url) as unknown as Record<string, unknown>;
      for (const [key, value] of Object.entries(config))
        if (SECRET_PARAM.test(key) && typeof value === 'string' && value.length >= 3) out.push(value);
    } catch {
      /* the URL-level mask above stands */
    }
  }
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password.length >= 3) out.push(password);
  } catch {
    /* no URL password */
  }
  return out;
}
