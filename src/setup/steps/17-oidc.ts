import { AbortError } from '../../errors.js';
import { samePolicy } from '../policy-compare.js';
import { federatedTrust, json } from '../policies.js';
import {
  blocked,
  change,
  done,
  pending,
  waiting,
  type Change,
  type SetupContext,
  type Step,
  type StepState,
  rerun,
} from '../step.js';
import { desiredMailPolicy } from './07-mail-bucket.js';
import { messageOf } from '../../sys/operator-file.js';

const CLIENT_ID = 'sts.amazonaws.com';

/** The issuer must serve its discovery document, with `issuer` equal byte for byte. */
async function probeIssuer(ctx: SetupContext): Promise<StepState | undefined> {
  const { stack } = ctx;
  const url = `${stack.oidcIssuer}/.well-known/openid-configuration`;
  let res: { status: number; json?: unknown };
  try {
    res = await ctx.fetchJson(url);
  } catch (err) {
    return waiting(
      `${url} is not reachable (${messageOf(err)})`,
      `bring the broker up with TLS (agentkeys broker setup${stack.name === 'test' ? ' --test' : ''}), ` +
        `then: ${rerun(ctx, 'oidc')}`,
    );
  }
  if (res.status !== 200)
    return waiting(`${url} answers HTTP ${res.status}`, `${rerun(ctx, 'oidc')} once the broker serves it`);
  const issuer = (res.json as { issuer?: unknown } | undefined)?.issuer;
  if (issuer !== stack.oidcIssuer)
    return blocked(
      `the discovery document says issuer ${JSON.stringify(issuer)}, not ${stack.oidcIssuer}`,
      'BROKER_OIDC_ISSUER and OIDC_ISSUER must match exactly (no trailing slash)',
    );
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
    const { stack, aws } = ctx;
    const changes: Change[] = [];
    const provider = await aws.getOidcProvider(stack.oidcProviderArn);
    if (!provider) changes.push(registerProvider(ctx));
    else if (!provider.clientIds.includes(CLIENT_ID))
      changes.push(
        change(
          'update',
          `OIDC provider ${stack.oidcIssuer} client ids`,
          () => aws.addOidcClientId(stack.oidcProviderArn, CLIENT_ID),
          `add ${CLIENT_ID}`,
        ),
      );
    const trust = json(federatedTrust(stack));
    // Class roles first, the data role last: the data role's trust is what flips the phase.
    for (const role of [...stack.dataClasses.map((d) => d.role), stack.dataRole]) {
      const r = await aws.getRole(role);
      if (!r) return blocked(`role ${role} does not exist`, 'run steps 11 and 13 first');
      if (!samePolicy(r.trust, trust))
        changes.push(
          change(
            'update',
            `IAM role ${role} trust`,
            () => aws.updateTrust(role, trust),
            'federated (web identity + session tags)',
          ),
        );
    }
    if (await aws.getRolePolicy(stack.dataRole, `${stack.dataRole}-inline`))
      changes.push(
        change(
          'delete',
          `${stack.dataRole}-inline`,
          () => aws.deleteRolePolicy(stack.dataRole, `${stack.dataRole}-inline`),
          'the broad static grant',
        ),
      );
    // The mail policy follows the phase, so it is rendered when applied, after the trust flipped.
    if (changes.length > 0 || !samePolicy(await aws.getBucketPolicy(stack.mailBucket), await desiredMailPolicy(ctx))) {
      changes.push(
        change(
          'update',
          `s3://${stack.mailBucket} policy`,
          async () => aws.putBucketPolicy(stack.mailBucket, await desiredMailPolicy(ctx)),
          'per-actor prefixes',
        ),
      );
    }
    return changes.length
      ? pending(changes)
      : done(`${stack.oidcIssuer} federated: ${stack.dataRole} and ${stack.dataClasses.length} class roles`);
  },
  /** The provider; the trusts it set go with their roles (steps 11 and 13). */
  async teardown(ctx) {
    const { stack, aws } = ctx;
    if (!(await aws.getOidcProvider(stack.oidcProviderArn))) return [];
    return [
      {
        resource: `OIDC provider ${stack.oidcIssuer}`,
        action: 'delete',
        apply: () => aws.deleteOidcProvider(stack.oidcProviderArn),
      },
    ];
  },
};

/** An OIDC provider's URL cannot be changed later: registering one needs the operator's yes. */
function registerProvider(ctx: SetupContext): Change {
  const { stack } = ctx;
  return change(
    'create',
    `OIDC provider ${stack.oidcIssuer}`,
    async () => {
      if (
        !(await ctx.confirm(`Register ${stack.oidcIssuer} as an IAM OIDC provider? Its URL cannot be changed later.`))
      ) {
        throw new AbortError({
          code: 'CONFIRMATION_REQUIRED',
          message: `not registering ${stack.oidcIssuer}`,
          hint: 'add --yes to confirm',
        });
      }
      await ctx.aws.createOidcProvider(stack.oidcIssuer, [CLIENT_ID]);
    },
    `client ${CLIENT_ID}`,
  );
}
