// Step 7: nginx and certbot installed, the ACME webroot, and Phase A (HTTP only: the webroot and
// a 503 placeholder) for every hostname without a certificate yet, so certbot can prove it.
import { change, done, pending, type Change, type Step } from '../../steps/step.js';
import { shQuote } from '../../ssh/connection.js';
import type { BrokerContext } from '../context.js';
import { hostRun } from '../host-files.js';
import { relinkSites, siteFacts } from './sites.js';

export const nginxPhaseA: Step<BrokerContext> = {
  num: 7,
  id: 'nginx-phase-a',
  title: 'nginx Phase A (HTTP, ACME webroot) for hosts without a certificate',
  async check(ctx) {
    const facts = await siteFacts(ctx);
    const changes: Change[] = [];
    const missing = (['nginx', 'certbot'] as const).filter((t) => !facts.tools[t]);
    if (missing.length > 0)
      changes.push(
        change(
          'create',
          `package ${missing.join(' ')}`,
          () =>
            hostRun(
              ctx.shell,
              `DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${missing.join(' ')}`,
              `apt-get install ${missing.join(' ')}`,
            ),
          'apt-get install',
        ),
      );
    if (!facts.webroot)
      changes.push(
        change(
          'create',
          ctx.paths.webroot,
          () => hostRun(ctx.shell, `mkdir -p ${shQuote(ctx.paths.webroot)}`, 'mkdir webroot'),
          'ACME webroot',
        ),
      );
    const uncertified = ctx.services.map((s) => s.host).filter((h) => !facts.certificates.has(h));
    // Changes apply in order: the packages before the links nginx -t checks.
    changes.push(...relinkSites(ctx, facts, uncertified, 'a'));
    if (changes.length > 0) return pending(changes);
    return done(
      uncertified.length > 0
        ? `${uncertified.length} host(s) on Phase A until their certificate`
        : 'every host has a certificate (Phase B)',
    );
  },
};
