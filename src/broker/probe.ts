// Seed 004 §10.2's post-deploy checks, from the laptop: each hostname's /healthz and TLS
// certificate (trusted, for that name, days to expiry), then the issuer's discovery document
// (exact issuer) and JWKS. Built on the doctor's checks and runner.
import { fail, ok, stackOf, warn, type DoctorCheck } from '../doctor/check.js';
import { stackCheck } from '../doctor/checks/aws.js';
import { jwksCheck, oidcDiscoveryCheck } from '../doctor/checks/endpoints.js';
import type { Stack } from '../setup/stack.js';
import { brokerServices, type HostService } from './render.js';

const DAY = 86_400_000;

function hostCheck(s: HostService): DoctorCheck {
  return {
    id: `probe.${s.name}`,
    group: 'hosts',
    title: `${s.host}: /healthz and its TLS certificate`,
    needs: ['stack'],
    async run(ctx) {
      const { stack } = stackOf(ctx);
      const fix = `agentkeys ssh ${stack.name} -- sudo systemctl status agentkeys-${s.name}`;
      const certbot = `agentkeys ssh ${stack.name} -- sudo certbot certonly --webroot -w /var/www/acme -d ${s.host}`;
      const cert = await ctx.http.certificate(`https://${s.host}`).catch((err: Error) => err);
      if (cert instanceof Error) return fail(`${s.host}:443: ${cert.message}`, fix);
      if (!cert.authorized) return fail(`${s.host}: certificate not trusted (${cert.authorizationError})`, certbot);
      if (![cert.subject, ...cert.altNames].includes(s.host))
        return fail(`${s.host}: the certificate is for ${[cert.subject, ...cert.altNames].join(', ')}`, certbot);
      const days = Math.floor((Date.parse(cert.validTo) - ctx.now.getTime()) / DAY);
      if (days < 0) return fail(`${s.host}: certificate expired ${cert.validTo.slice(0, 10)}`, certbot);
      const health = await ctx.http.get(`https://${s.host}/healthz`).catch((err: Error) => err);
      if (health instanceof Error) return fail(`https://${s.host}/healthz: ${health.message}`, fix);
      if (health.status !== 200) return fail(`https://${s.host}/healthz answered ${health.status}`, fix);
      const detail = `healthz 200, certificate for ${s.host} until ${cert.validTo.slice(0, 10)} (${days} days)`;
      return days < 14 ? warn(`renew soon: ${detail}`, certbot) : ok(detail);
    },
  };
}

export function probeChecks(stack: Stack | undefined): DoctorCheck[] {
  const hosts = stack ? brokerServices(stack).map(hostCheck) : [];
  return [stackCheck, ...hosts, oidcDiscoveryCheck, jwksCheck];
}
