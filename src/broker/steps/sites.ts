// What steps 7-9 read of nginx and certbot on the host, in one round trip: the tools, the ACME
// webroot, each hostname's certificate (with its expiry) and which phase its site link points at.
import { shQuote } from '../../ssh/connection.js';
import { change, once, type Change } from '../../steps/step.js';
import { onHost, type BrokerContext } from '../context.js';
import { guardedChange, hostRead, linkScript, type HostFile } from '../host-files.js';

export interface SiteFacts {
  tools: { nginx: boolean; certbot: boolean };
  webroot: boolean;
  /** Hostname → the certificate's notAfter (ms), for the hosts that have one. */
  certificates: Map<string, number>;
  links: Map<string, HostFile>;
}

export const siteLink = (ctx: BrokerContext, host: string) =>
  onHost(ctx, `etc/nginx/sites-enabled/agentkeys-${host}.conf`);
export const phaseFile = (ctx: BrokerContext, phase: 'a' | 'b', host: string) =>
  onHost(ctx, `etc/nginx/agentkeys/phase-${phase}/${host}.conf`);

export async function siteFacts(ctx: BrokerContext): Promise<SiteFacts> {
  const hosts = ctx.services.map((s) => s.host);
  const script = [
    'command -v nginx >/dev/null && echo "has nginx"',
    'command -v certbot >/dev/null && echo "has certbot"',
    `[ -d ${shQuote(ctx.paths.webroot)} ] && echo "has webroot"`,
    `for h in ${hosts.map(shQuote).join(' ')}; do`,
    `  f=${shQuote(ctx.paths.certDir)}/$h/fullchain.pem`,
    '  if [ -s "$f" ]; then echo "cert $h $(openssl x509 -noout -enddate -in "$f" | cut -d= -f2)"; fi',
    'done',
  ].join('\n');
  const { facts: lines, files: links } = await hostRead(
    ctx.shell,
    script,
    hosts.map((h) => siteLink(ctx, h)),
  );
  const certificates = new Map<string, number>();
  for (const line of lines) {
    const m = /^cert (\S+) (.+)$/.exec(line);
    if (m) certificates.set(m[1]!, Date.parse(m[2]!));
  }
  return {
    tools: { nginx: lines.includes('has nginx'), certbot: lines.includes('has certbot') },
    webroot: lines.includes('has webroot'),
    certificates,
    links: new Map(hosts.map((h) => [h, links.get(siteLink(ctx, h))!])),
  };
}

/**
 * Points each host's site link at its phase, all in one change checked by nginx -t (undone when
 * refused), then reloads nginx. One apply shared by the per-host changes.
 */
export function relinkSites(ctx: BrokerContext, facts: SiteFacts, hosts: string[], phase: 'a' | 'b'): Change[] {
  const stale = hosts.filter((h) => {
    const link = facts.links.get(h)!;
    return link.kind !== 'link' || link.target !== phaseFile(ctx, phase, h);
  });
  const apply = once(() =>
    guardedChange(ctx.shell, {
      touched: stale.map((h) => siteLink(ctx, h)),
      change: stale.map((h) => linkScript(siteLink(ctx, h), phaseFile(ctx, phase, h))).join('\n'),
      validate: `nginx -t -q -c ${shQuote(onHost(ctx, 'etc/nginx/nginx.conf'))}`,
      after: 'systemctl reload-or-restart nginx',
      what: `nginx Phase ${phase.toUpperCase()} for ${stale.join(', ')}`,
    }),
  );
  return stale.map((h) =>
    change(
      facts.links.get(h)!.kind === 'missing' ? 'create' : 'update',
      `site ${h}`,
      apply,
      `Phase ${phase.toUpperCase()}${phase === 'a' ? ' (HTTP, ACME webroot, 503)' : ' (TLS)'}`,
    ),
  );
}
