// Step 8: a Let's Encrypt certificate per hostname, by certbot's webroot challenge.
// A host is asked for only once public DNS (DNS-over-HTTPS, not the laptop's resolver) answers
// with the EIP; until then it waits with the reason, and the other hosts go ahead. Renewal is
// certbot's own timer.
import { blocked, change, done, pending, waiting, type Step } from '../../steps/step.js';
import { shQuote } from '../../ssh/connection.js';
import { brokerRerun, onHost, type BrokerContext } from '../context.js';
import { hostRun } from '../host-files.js';
import { siteFacts } from './sites.js';

const DAY = 86_400_000;

export const certificates: Step<BrokerContext> = {
  num: 8,
  id: 'certificates',
  title: "Let's Encrypt certificate per hostname (once DNS resolves to the EIP)",
  pollable: true,
  async check(ctx) {
    const facts = await siteFacts(ctx);
    const hosts = ctx.services.map((s) => s.host);
    const lacking = hosts.filter((h) => !facts.certificates.has(h));
    if (lacking.length === 0) {
      const earliest = Math.min(...facts.certificates.values());
      const days = Math.floor((earliest - Date.now()) / DAY);
      return done(`${hosts.length} certificate(s); the first expires in ${days} day(s) (certbot renews)`);
    }
    if (!ctx.eip)
      return blocked(
        `no EIP for the ${ctx.stack.name} broker: cannot tell whether DNS points at the host`,
        `agentkeys setup${ctx.stack.name === 'test' ? ' --test' : ''} --only-step 4 writes it`,
      );
    const answers = await Promise.all(lacking.map(async (h) => ({ host: h, answer: await ctx.resolveA(h) })));
    const ready = answers.filter((a) => 'addresses' in a.answer && a.answer.addresses.includes(ctx.eip!));
    const notYet = answers.filter((a) => !ready.includes(a));
    if (ready.length > 0 && !ctx.acmeEmail)
      return blocked(
        "no email for the Let's Encrypt account",
        `set ACME_EMAIL= in ${ctx.stack.brokerEnvFile}, or pass --email`,
      );
    if (ready.length > 0)
      return pending(ready.map((a) => change('create', `certificate ${a.host}`, () => issue(ctx, a.host), 'certbot')));
    const why = notYet
      .map(
        (a) =>
          `${a.host}: ${'addresses' in a.answer ? `resolves to ${a.answer.addresses.join(', ')}` : a.answer.error}`,
      )
      .join('; ');
    return waiting(
      `${notYet.length} host(s) do not resolve to ${ctx.eip} yet (${why})`,
      `add the A records (agentkeys setup${ctx.stack.name === 'test' ? ' --test' : ''} --only-step 6), ` +
        `then ${brokerRerun(ctx, 'certificates')} (or --wait SECONDS)`,
    );
  },
};

async function issue(ctx: BrokerContext, host: string): Promise<void> {
  // Under a staging root certbot keeps its whole state there too (its own flags for that).
  const dirs =
    ctx.root === '/'
      ? ''
      : ` --config-dir ${shQuote(onHost(ctx, 'etc/letsencrypt'))}` +
        ` --work-dir ${shQuote(onHost(ctx, 'var/lib/letsencrypt'))}` +
        ` --logs-dir ${shQuote(onHost(ctx, 'var/log/letsencrypt'))}`;
  await hostRun(
    ctx.shell,
    `certbot certonly --webroot -w ${shQuote(ctx.paths.webroot)} -d ${shQuote(host)} ` +
      `--agree-tos -m ${shQuote(ctx.acmeEmail!)} --non-interactive --keep-until-expiring${dirs}`,
    `certbot for ${host} (see /var/log/letsencrypt/letsencrypt.log; ports 80 and 443 must be open)`,
  );
}
