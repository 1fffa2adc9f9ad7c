// Step 9: Phase B (TLS, proxied to the service) for every hostname that has a certificate.
import { done, pending, waiting, type Step } from '../../steps/step.js';
import { brokerRerun, type BrokerContext } from '../context.js';
import { relinkSites, siteFacts } from './sites.js';

export const nginxPhaseB: Step<BrokerContext> = {
  num: 9,
  id: 'nginx-phase-b',
  title: 'nginx Phase B (TLS) for hosts with a certificate',
  async check(ctx) {
    const facts = await siteFacts(ctx);
    const hosts = ctx.services.map((s) => s.host);
    const certified = hosts.filter((h) => facts.certificates.has(h));
    if (certified.length === 0)
      return waiting('no hostname has a certificate yet: all stay on Phase A', brokerRerun(ctx, 'certificates'));
    const changes = relinkSites(ctx, facts, certified, 'b');
    if (changes.length > 0) return pending(changes);
    const rest = hosts.length - certified.length;
    return done(`${certified.length} host(s) on TLS${rest > 0 ? `, ${rest} on Phase A until their certificate` : ''}`);
  },
};
