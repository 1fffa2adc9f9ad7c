// Seed 004 §10.2's post-deploy checks, from the laptop: each hostname's /healthz and TLS
// certificate (trusted, for that name, days to expiry), then the issuer's discovery document
// (exact issuer) and JWKS. Built on the doctor's checks and runner.
import { fail, ok, stackOf, warn, type DoctorCheck } from '../doctor/check.js';
import { stackCheck } from '../doctor/checks/aws.js';
import {
  certbotFix,
  certificateProblem,
  daysLeft,
  jwksCheck,
  oidcDiscoveryCheck,
  servedCertificate,
} from '../doctor/checks/endpoints.js';
import type { Stack } from '../config/stack.js';
import { brokerServices, type HostService } from './render.js';

function hostCheck(s: HostService): DoctorCheck {
  return {
    id: `probe.${s.name}`,
    group: 'hosts',
    title: `${s.host}: /healthz and its TLS certificate`,
    needs: ['stack'],
    async run(ctx) {
      const { stack } = stackOf(ctx);
      const fix = `agentkeys ssh ${stack.name} -- sudo systemctl status agentkeys-${s.name}`;
      const certbot = certbotFix(stack.name, s.host);
      const cert = await servedCertificate(ctx, `https://${s.host}`);
      if (cert instanceof Error) return fail(`${s.host}:443: ${cert.message}`, fix);
      const problem = certificateProblem(cert, s.host, ctx.now, certbot);
      if (problem) return problem;
      const health = await ctx.http.get(`https://${s.host}/healthz`).catch((err: Error) => err);
      if (health instanceof Error) return fail(`https://${s.host}/healthz: ${health.message}`, fix);
      if (health.status !== 200) return fail(`https://${s.host}/healthz answered ${health.status}`, fix);
      const days = daysLeft(cert, ctx.now);
      const detail = `healthz 200, certificate for ${s.host} until ${cert.validTo.slice(0, 10)} (${days} days)`;
      return days < 14 ? warn(`renew soon: ${detail}`, certbot) : ok(detail);
    },
  };
}

export function probeChecks(stack: Stack | undefined): DoctorCheck[] {
  const hosts = stack ? brokerServices(stack).map(hostCheck) : [];
  return [stackCheck, ...hosts, oidcDiscoveryCheck, jwksCheck];
}
