import { AbortError } from '../../errors.js';
import { samePolicy } from '../policy-compare.js';
import { federatedTrust, json } from '../policies.js';
import { blocked, done, pending, waiting, type Change, type SetupContext, type Step, type StepState, rerun } from '../step.js';
import { desiredMailPolicy } from './07-mail-bucket.js';

const CLIENT_ID = 'sts.amazonaws.com';

/** The issuer must serve its discovery document, with `issuer` equal byte for byte. */
async function probeIssuer(ctx: SetupContext): Promise<StepState | undefined> {
  const { stack } = ctx;
  const url = `${stack.oidcIssuer}/.well-known/openid-configuration`;
  let res: { status: number; json?: unknown };
  try {
    res = await ctx.fetchJson(url);
  } catch (err) {
    return waiting(`${url} is not reachable (${(err as Error).message})`, `bring the broker up with TLS (setup-broker-host), then: ${rerun(ctx, 'oidc')}`);
  }
  if (res.status !== 200) return waiting(`${url} answers HTTP ${res.status}`, `${rerun(ctx, 'oidc')} once the broker serves it`);
  const issuer = (res.json as { issuer?: unknown } | undefined)?.issuer;
  if (issuer !== stack.oidcIssuer) return blocked(`the discovery document says issuer ${JSON.stringify(issuer)}, not ${stack.oidcIssuer}`, 'BROKER_OIDC_ISSUER and OIDC_ISSUER must match exactly (no trailing slash)');
  return undefined;
}

/**
 * OIDC federation (cloud-bootstrap §9): register the broker as an IAM OIDC provider, swap the
 * data and class roles to the federated trust, drop the data role's broad inline grant, and scope
 * the mail bucket to each actor's prefix. Waits until the issuer serves its discovery document.
 * ThumbprintList is omitted: IAM validates public-CA issuers against its own trust store.
 */
export const oidcStep: Step = {
  pollable: true,
  num: 17,
  id: 'oidc',
  title: 'Federate the data roles with the broker (OIDC)',
  async check(ctx) {
    const probe = await probeIssuer(ctx);
    if (probe) return probe;
    const { stack } = ctx;
    const changes: Change[] = [];
    const provider = await ctx.aws.getOidcProvider(stack.oidcProviderArn);
    if (!provider) changes.push({ action: 'create', resource: `OIDC provider ${stack.oidcIssuer}`, detail: `client ${CLIENT_ID}` });
    else if (!provider.clientIds.includes(CLIENT_ID)) changes.push({ action: 'update', resource: `OIDC provider ${stack.oidcIssuer} client ids`, detail: `add ${CLIENT_ID}` });
    const trust = json(federatedTrust(stack));
    for (const role of [...stack.dataClasses.map((d) => d.role), stack.dataRole]) {
      const r = await ctx.aws.getRole(role);
      if (!r) return blocked(`role ${role} does not exist`, 'run steps 11 and 13 first');
      if (!samePolicy(r.trust, trust)) changes.push({ action: 'update', resource: `IAM role ${role} trust`, detail: 'federated (web identity + session tags)' });
    }
    if (await ctx.aws.getRolePolicy(stack.dataRole, `${stack.dataRole}-inline`)) changes.push({ action: 'delete', resource: `${stack.dataRole}-inline`, detail: 'the broad static grant' });
    if (changes.length === 0 && !samePolicy(await ctx.aws.getBucketPolicy(stack.mailBucket), await desiredMailPolicy(ctx))) changes.push({ action: 'update', resource: `s3://${stack.mailBucket} policy`, detail: 'per-actor prefixes' });
    return changes.length ? pending(changes) : done(`${stack.oidcIssuer} federated: ${stack.dataRole} and ${stack.dataClasses.length} class roles`);
  },
  async apply(ctx, changes) {
    const { stack } = ctx;
    const has = (r: string) => changes.some((c) => c.resource === r);
    if (has(`OIDC provider ${stack.oidcIssuer}`)) {
      if (!(await ctx.confirm(`Register ${stack.oidcIssuer} as an IAM OIDC provider? Its URL cannot be changed later.`))) {
        throw new AbortError({ code: 'CONFIRMATION_REQUIRED', message: `not registering ${stack.oidcIssuer}`, hint: 'add --yes to confirm' });
      }
      await ctx.aws.createOidcProvider(stack.oidcIssuer, [CLIENT_ID]);
    }
    if (has(`OIDC provider ${stack.oidcIssuer} client ids`)) await ctx.aws.addOidcClientId(stack.oidcProviderArn, CLIENT_ID);
    // Class roles first, the data role last: the data role's trust is what flips the phase.
    for (const role of [...stack.dataClasses.map((d) => d.role), stack.dataRole]) {
      if (has(`IAM role ${role} trust`)) await ctx.aws.updateTrust(role, json(federatedTrust(stack)));
    }
    if (has(`${stack.dataRole}-inline`)) await ctx.aws.deleteRolePolicy(stack.dataRole, `${stack.dataRole}-inline`);
    await ctx.aws.putBucketPolicy(stack.mailBucket, await desiredMailPolicy(ctx));
  },
};
