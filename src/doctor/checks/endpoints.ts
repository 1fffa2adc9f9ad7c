import { fail, ok, setupFix, stackOf, warn, type DoctorCheck, type DoctorContext } from '../check.js';

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

async function discovery(ctx: DoctorContext): Promise<Discovery> {
  const res = await ctx.http.get(wellKnown(ctx));
  if (res.status !== 200) throw new Error(`answered ${res.status}`);
  return JSON.parse(res.body) as Discovery;
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
      return fail(`${wellKnown(ctx)}: ${(err as Error).message}`, brokerFix(ctx));
    }
    // AWS compares the iss claim with the registered URL byte for byte (seed 004 §9).
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
  title: 'The JWKS holds at least one key',
  needs: ['oidc.discovery'],
  async run(ctx) {
    const uri = (await discovery(ctx)).jwks_uri as string;
    const res = await ctx.http.get(uri);
    if (res.status !== 200) return fail(`${uri} answered ${res.status}`, brokerFix(ctx));
    const keys = (JSON.parse(res.body) as { keys?: { kty?: string; kid?: string; alg?: string }[] }).keys ?? [];
    if (keys.length === 0) return fail(`${uri} has no keys`, 'publish the signing key: agentkeys rotate-key --jwt DIR');
    return ok(`${keys.length} key(s): ${keys.map((k) => `${k.kid ?? '?'} (${k.alg ?? k.kty})`).join(', ')}`);
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

const DAY = 86_400_000;

/** The certificate STS will see: trusted, for the broker's name, not about to expire; its SHA-1 thumbprint. */
export const tlsCheck: DoctorCheck = {
  id: 'oidc.tls',
  group: 'oidc',
  title: "The issuer's TLS certificate, and its SHA-1 thumbprint against the IAM provider",
  needs: ['stack'],
  async run(ctx) {
    const setup = stackOf(ctx);
    const { stack } = setup;
    const host = new URL(stack.oidcIssuer).hostname;
    const cert = await ctx.http.certificate(stack.oidcIssuer).catch((err: Error) => err);
    if (cert instanceof Error) return fail(`${stack.oidcIssuer}: ${cert.message}`, brokerFix(ctx));
    const certbot = `agentkeys ssh ${stack.name} -- sudo certbot certonly --webroot -w /var/www/acme -d ${host}`;
    if (!cert.authorized) return fail(`${host}: certificate not trusted (${cert.authorizationError})`, certbot);
    if (![cert.subject, ...cert.altNames].includes(host))
      return fail(`the certificate is for ${[cert.subject, ...cert.altNames].join(', ')}, not ${host}`, certbot);
    const daysLeft = Math.floor((Date.parse(cert.validTo) - ctx.now.getTime()) / DAY);
    const detail = `${host}, expires ${cert.validTo.slice(0, 10)} (${daysLeft} days), SHA-1 ${cert.sha1}`;
    if (daysLeft < 0) return fail(`expired: ${detail}`, certbot);
    const provider = ctx.caller
      ? await setup.aws.getOidcProvider(stack.oidcProviderArn).catch(() => undefined)
      : undefined;
    if (provider && provider.thumbprints.length > 0 && !provider.thumbprints.includes(cert.sha1))
      return warn(
        `${detail}; the IAM provider lists ${provider.thumbprints.join(', ')}`,
        `aws iam update-open-id-connect-provider-thumbprint --open-id-connect-provider-arn ` +
          `${stack.oidcProviderArn} --thumbprint-list ${cert.sha1}`,
      );
    if (daysLeft < 14) return warn(`renew soon: ${detail}`, certbot);
    return ok(detail);
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
    return ok(`${stack.oidcProviderArn}`);
  },
};
