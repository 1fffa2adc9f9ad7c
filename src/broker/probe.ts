// Seed 004 §10.2's post-deploy checks, from the laptop: each hostname's /healthz and TLS
// certificate (trusted, for that name, days to expiry), then the issuer's discovery document
// (exact issuer) and JWKS. Built on the doctor's checks and runner.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
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

/**
 * SHA-1 of the newest certificate certbot holds for a host (its live/NAME/fullchain.pem, first
 * certificate), lowercase hex as PeerCertificate has it; undefined when there is none.
 */
async function newestOnDisk(certDir: string, host: string): Promise<string | undefined> {
  const pem = await readFile(path.join(certDir, host, 'fullchain.pem'), 'utf8').catch(() => undefined);
  if (pem === undefined) return undefined;
  return new X509Certificate(pem).fingerprint.replace(/:/g, '').toLowerCase();
}

function hostCheck(s: HostService, certDir: string | undefined): DoctorCheck {
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
      // After a renewal nginx serves the old certificate until it is reloaded (the deploy hook does).
      const onDisk = certDir ? await newestOnDisk(certDir, s.host) : undefined;
      if (onDisk && onDisk !== cert.sha1)
        return fail(
          `${s.host} serves certificate ${cert.sha1}, but certbot's newest is ${onDisk}: nginx was not reloaded`,
          `agentkeys ssh ${stack.name} -- sudo sh -c 'nginx -t && systemctl reload nginx'`,
        );
      const days = daysLeft(cert, ctx.now);
      const detail = `healthz 200, certificate for ${s.host} until ${cert.validTo.slice(0, 10)} (${days} days)`;
      return days < 14 ? warn(`renew soon: ${detail}`, certbot) : ok(detail);
    },
  };
}

/** certDir: certbot's live directory, to compare each served certificate with (on the host). */
export function probeChecks(stack: Stack | undefined, certDir?: string): DoctorCheck[] {
  const hosts = stack ? brokerServices(stack).map((s) => hostCheck(s, certDir)) : [];
  return [stackCheck, ...hosts, oidcDiscoveryCheck, jwksCheck];
}
