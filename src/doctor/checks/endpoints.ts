import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { PeerCertificate } from '../http.js';
import {
  fail,
  measured,
  memo,
  ok,
  setupFix,
  stackOf,
  warn,
  type DoctorCheck,
  type DoctorContext,
  type Outcome,
} from '../check.js';
import { messageOf } from '../../sys/operator-file.js';
import { parseJwks, type JwksKey } from '../../signing/jwt-publish.js';
import { MAILS_SEARCHED, senderVerificationLink } from '../../setup/mail.js';

export const sesDomainCheck: DoctorCheck = {
  id: 'ses.domain',
  group: 'ses',
  title: 'The mail domain is verified for sending, with DKIM',
  needs: ['aws.account'],
  async run(ctx) {
    const { stack, aws } = stackOf(ctx);
    const identity = await aws.getEmailIdentity(stack.mailDomain);
    if (!identity) return fail(`SES has no identity ${stack.mailDomain}`, setupFix(ctx, 'ses-domain'));
    const dkim = identity.dkimStatus ?? 'NOT_STARTED';
    if (!identity.verifiedForSending || dkim !== 'SUCCESS')
      return fail(
        `${stack.mailDomain}: ${identity.verifiedForSending ? 'verified' : 'not verified'}, DKIM ${dkim}`,
        `${setupFix(ctx, 'dns')} && ${setupFix(ctx, 'ses-domain', ' --wait 900')}`,
      );
    return ok(`${stack.mailDomain} verified, DKIM SUCCESS`);
  },
};

/** Out of the SES sandbox or not, and whether sending is paused (SES v2 GetAccount). */
export const sesAccountCheck: DoctorCheck = {
  id: 'ses.account',
  group: 'ses',
  title: 'SES may send: production access, sending enabled, the daily quota',
  needs: ['aws.account'],
  async run(ctx) {
    const { stack, aws } = stackOf(ctx);
    const account = await aws.getSendingAccount();
    const quota = `${account.sentLast24Hours}/${account.max24HourSend} sent in 24 h`;
    if (!account.sendingEnabled)
      return fail(
        `SES sending is paused in ${stack.region} (${account.enforcementStatus ?? 'no status'})`,
        'open the SES console, Reputation metrics: the reason and how to resume',
      );
    if (!account.productionAccess)
      return warn(
        `SES in ${stack.region} is in the sandbox: mail goes only to verified addresses (${quota})`,
        `aws sesv2 put-account-details --region ${stack.region} --production-access-enabled --mail-type ` +
          `TRANSACTIONAL --website-url https://${stack.brokerHost} --use-case-description "agent mail"`,
      );
    if (account.sentLast24Hours >= account.max24HourSend * 0.8)
      return warn(`SES in ${stack.region}: ${quota}, near the daily quota`, 'ask AWS for a higher sending quota');
    return ok(`production access in ${stack.region}; ${quota}`);
  },
};

/** The sender address verified; when not, the confirmation link from the inbound bucket. */
export const sesSenderCheck: DoctorCheck = {
  id: 'ses.sender',
  group: 'ses',
  title: 'The sender address is verified (else: its confirmation link, from the inbound mail)',
  needs: ['aws.account'],
  async run(ctx) {
    const { stack, aws } = stackOf(ctx);
    const identity = await aws.getEmailIdentity(stack.senderAddress);
    if (!identity) return fail(`SES has no identity ${stack.senderAddress}`, setupFix(ctx, 'ses-sender'));
    if (identity.verifiedForSending) return ok(`${stack.senderAddress} verified for sending`);
    const link = await senderVerificationLink(stack, aws);
    return fail(
      `${stack.senderAddress} is not verified yet`,
      link
        ? `open SES's confirmation link (from the newest inbound mails): ${link}, then: ${setupFix(ctx, 'ses-sender')}`
        : `open SES's verification mail under s3://${stack.mailBucket}/inbound/ ` +
            `(none in the ${MAILS_SEARCHED} newest), then: ${setupFix(ctx, 'ses-sender')}`,
    );
  },
};

/** Route 53's own answer (TestDNSAnswer) for every host against the EIP: no local resolver guesswork. */
export const dnsCheck: DoctorCheck = {
  id: 'dns.records',
  group: 'dns',
  title: 'Every host resolves to the Elastic IP (Route 53 TestDNSAnswer)',
  needs: ['aws.account'],
  async run(ctx) {
    const setup = stackOf(ctx);
    const { stack, aws } = setup;
    const eip = setup.state.eip ?? stack.eip;
    if (!eip) return fail(`no EIP in ${stack.brokerEnvFile}`, setupFix(ctx, 'eip'));
    const answers = await Promise.all(
      stack.hosts.map(async (host) => ({ host, ...(await aws.testDnsAnswer(stack.parentZoneId, host, 'A')) })),
    );
    const wrong = answers.filter((a) => a.code !== 'NOERROR' || a.data.length !== 1 || a.data[0] !== eip);
    if (wrong.length > 0)
      return fail(
        wrong.map((a) => `${a.host}: ${a.code === 'NOERROR' ? a.data.join(', ') || 'no data' : a.code}`).join('; ') +
          ` (want ${eip})`,
        setupFix(ctx, 'dns'),
      );
    return ok(`${stack.hosts.length} hosts → ${eip}`);
  },
};

const wellKnown = (ctx: DoctorContext) => `${stackOf(ctx).stack.oidcIssuer}/.well-known/openid-configuration`;
// The fix for anything the broker host serves: bring it up (issue 13), then look at it over SSH.
const brokerFix = (ctx: DoctorContext) =>
  `bring the broker up, then look: agentkeys ssh ${stackOf(ctx).stack.name} -- sudo systemctl status 'agentkeys-*'`;

interface Discovery {
  issuer?: unknown;
  jwks_uri?: unknown;
}

function discovery(ctx: DoctorContext): Promise<Discovery> {
  return memo(ctx, 'discovery', async () => {
    const res = await ctx.http.get(wellKnown(ctx));
    if (res.status !== 200) throw new Error(`answered ${res.status}`);
    return JSON.parse(res.body) as Discovery;
  });
}

/** The certificate served for a URL, read once per run; a failed handshake is its Error. */
export function servedCertificate(ctx: DoctorContext, url: string): Promise<PeerCertificate | Error> {
  return memo(ctx, `certificate ${url}`, () => ctx.http.certificate(url).catch((err: Error) => err));
}

const DAY = 86_400_000;
export const daysLeft = (cert: PeerCertificate, now: Date) =>
  Math.floor((Date.parse(cert.validTo) - now.getTime()) / DAY);
export const certbotFix = (stack: string, host: string) =>
  `agentkeys broker setup${stack === 'test' ? ' --test' : ''} --only-step certificates ` +
  `(issues ${host} once it resolves to the EIP)`;

/** What is wrong with a served certificate for `host` (untrusted, another name, expired), if anything. */
export function certificateProblem(cert: PeerCertificate, host: string, now: Date, fix: string): Outcome | undefined {
  if (!cert.authorized) return fail(`${host}: certificate not trusted (${cert.authorizationError})`, fix);
  const names = [cert.subject, ...cert.altNames];
  if (!names.includes(host)) return fail(`${host}: the certificate is for ${names.join(', ')}`, fix);
  if (daysLeft(cert, now) < 0) return fail(`${host}: certificate expired ${cert.validTo.slice(0, 10)}`, fix);
  return undefined;
}

export const oidcDiscoveryCheck: DoctorCheck = {
  id: 'oidc.discovery',
  group: 'oidc',
  title: "The issuer's discovery document names it exactly",
  needs: ['stack'],
  async run(ctx) {
    const { stack } = stackOf(ctx);
    let doc: Discovery;
    try {
      doc = await discovery(ctx);
    } catch (err) {
      return fail(`${wellKnown(ctx)}: ${messageOf(err)}`, brokerFix(ctx));
    }
    // AWS compares the iss claim with the registered URL byte for byte (a trailing slash breaks it).
    if (doc.issuer !== stack.oidcIssuer)
      return fail(
        `issuer is ${JSON.stringify(doc.issuer)}, not ${stack.oidcIssuer} (STS compares byte for byte)`,
        `set the broker's issuer to ${stack.oidcIssuer} in ${stack.brokerEnvFile} and restart it`,
      );
    if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri.startsWith('https://'))
      return fail(`jwks_uri is ${JSON.stringify(doc.jwks_uri)}, not an https URL`, brokerFix(ctx));
    return ok(`issuer ${stack.oidcIssuer}, jwks_uri ${doc.jwks_uri}`);
  },
};

export const jwksCheck: DoctorCheck = {
  id: 'oidc.jwks',
  group: 'oidc',
  title: 'The JWKS holds at least one key, and the OIDC key broker setup made on the host',
  needs: ['oidc.discovery'],
  async run(ctx) {
    const uri = (await discovery(ctx)).jwks_uri as string;
    const res = await ctx.http.get(uri).catch((err: Error) => ({ status: 0, body: err.message }));
    if (res.status !== 200) return fail(`${uri} answered ${res.status}`, brokerFix(ctx));
    let keys: JwksKey[];
    try {
      keys = parseJwks(res.body, uri);
    } catch (err) {
      return fail(messageOf(err), brokerFix(ctx));
    }
    if (keys.length === 0) return fail(`${uri} has no keys`, 'publish the signing key: agentkeys rotate-key --jwt DIR');
    const names = keys.map((k) => `${k.kid ?? '?'} (${k.alg ?? k.kty})`);
    const listed = `${keys.length} key(s): ${names.join(', ')}`;
    // The public half broker setup fetched back (step 5): the broker must serve that very key.
    const file = path.join(ctx.config.dir, 'broker', `${stackOf(ctx).stack.name}.oidc-jwks.json`);
    const made = await readFile(file, 'utf8')
      .then((t) => parseJwks(t, file)[0])
      .catch(() => undefined);
    if (made && !keys.some((k) => k.n === made.n && k.e === made.e))
      return fail(
        `${uri} does not serve the OIDC key generated on the host (${made.kid}); ${listed}`,
        'the broker reads another key: check BROKER_OIDC_KEYPAIR_PATH in /etc/agentkeys/broker.env and restart it',
      );
    return ok(made ? `${listed}; serves the host's OIDC key ${made.kid}` : listed);
  },
};

export const healthzCheck: DoctorCheck = {
  id: 'oidc.healthz',
  group: 'oidc',
  title: 'The broker answers /healthz',
  needs: ['stack'],
  async run(ctx) {
    const url = `${stackOf(ctx).stack.oidcIssuer}/healthz`;
    const res = await ctx.http.get(url).catch((err: Error) => ({ status: 0, body: err.message }));
    if (res.status !== 200) return fail(`${url}: ${res.status || res.body}`, brokerFix(ctx));
    return ok(`${url} 200`);
  },
};

/** The certificate STS will see: trusted, for the broker's name, not about to expire; its SHA-1 thumbprint. */
export const tlsCheck: DoctorCheck = {
  id: 'oidc.tls',
  group: 'oidc',
  title: "The issuer's TLS certificate and its SHA-1 thumbprint",
  needs: ['stack'],
  async run(ctx) {
    const { stack } = stackOf(ctx);
    const host = new URL(stack.oidcIssuer).hostname;
    const cert = await servedCertificate(ctx, stack.oidcIssuer);
    if (cert instanceof Error) return fail(`${stack.oidcIssuer}: ${cert.message}`, brokerFix(ctx));
    const certbot = certbotFix(stack.name, host);
    const problem = certificateProblem(cert, host, ctx.now, certbot);
    if (problem) return problem;
    const days = daysLeft(cert, ctx.now);
    const detail = `${host}, expires ${cert.validTo.slice(0, 10)} (${days} days), SHA-1 ${cert.sha1}`;
    const expiry = Math.floor(Date.parse(cert.validTo) / 1000);
    const left = [{ name: 'agentkeys_tls_certificate_expiry_timestamp_seconds', labels: { host }, value: expiry }];
    return measured(days < 14 ? warn(`renew soon: ${detail}`, certbot) : ok(detail), left);
  },
};

export const oidcProviderCheck: DoctorCheck = {
  id: 'oidc.provider',
  group: 'oidc',
  title: 'The IAM OIDC provider exists for the issuer, with client sts.amazonaws.com',
  needs: ['aws.account'],
  async run(ctx) {
    const { stack, aws } = stackOf(ctx);
    const provider = await aws.getOidcProvider(stack.oidcProviderArn);
    if (!provider) return fail(`no IAM OIDC provider ${stack.oidcProviderArn}`, setupFix(ctx, 'oidc'));
    if (!provider.clientIds.includes('sts.amazonaws.com'))
      return fail(`${stack.oidcProviderArn} lacks client sts.amazonaws.com`, setupFix(ctx, 'oidc'));
    // A listed thumbprint must be the served certificate's (an empty list: IAM validates the CA itself).
    const cert = await servedCertificate(ctx, stack.oidcIssuer);
    if (!(cert instanceof Error) && provider.thumbprints.length > 0 && !provider.thumbprints.includes(cert.sha1))
      return warn(
        `${stack.oidcProviderArn} lists thumbprints ${provider.thumbprints.join(', ')}; the issuer serves ${cert.sha1}`,
        `aws iam update-open-id-connect-provider-thumbprint --open-id-connect-provider-arn ` +
          `${stack.oidcProviderArn} --thumbprint-list ${cert.sha1}`,
      );
    return ok(`${stack.oidcProviderArn}`);
  },
};
