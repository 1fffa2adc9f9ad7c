import type { ResourceRecordSet } from '../../aws/setup-api.js';
import {
  blocked,
  change,
  done,
  once,
  pending,
  waiting,
  type SetupContext,
  type Step,
  type StepState,
  rerun,
} from '../step.js';

interface Desired {
  name: string;
  type: 'A' | 'MX' | 'TXT' | 'CNAME';
  values: string[];
}

const fqdn = (name: string) => (name.endsWith('.') ? name : `${name}.`);
const RECORD_TYPES = new Set<string>(['A', 'MX', 'TXT', 'CNAME'] satisfies Desired['type'][]);
const SPF = '"v=spf1 include:amazonses.com -all"';

async function desiredRecords(
  ctx: SetupContext,
  existing: ResourceRecordSet[],
): Promise<{ records: Desired[]; dkimMissing: boolean } | StepState> {
  const { stack } = ctx;
  const eip = ctx.state.eip;
  if (!eip) return blocked('no Elastic IP yet', `run step 4 first: ${rerun(ctx, '4')}`);
  const identity = await ctx.aws.getEmailIdentity(stack.mailDomain);
  const tokens = identity?.dkimTokens ?? [];
  const current = (name: string, type: string) =>
    existing.find((r) => r.Name === fqdn(name) && r.Type === type)?.ResourceRecords?.map((r) => r.Value!) ?? [];
  const mx = `10 inbound-smtp.${stack.region}.amazonaws.com`;
  const foreignMx = current(stack.mailDomain, 'MX').filter((v) => v !== mx);
  if (foreignMx.length > 0)
    return blocked(
      `${stack.mailDomain} already has MX ${foreignMx.join(', ')}`,
      'remove the foreign MX record; agentkeys never replaces another mail route',
    );
  // TXT is merged: other verification strings on the mail domain survive (weakness 16).
  const otherTxt = current(stack.mailDomain, 'TXT').filter((v) => !v.startsWith('"v=spf1'));
  const records: Desired[] = [
    ...stack.hosts.map((h) => ({ name: fqdn(h), type: 'A' as const, values: [eip] })),
    { name: fqdn(stack.mailDomain), type: 'MX', values: [mx] },
    { name: fqdn(stack.mailDomain), type: 'TXT', values: [...otherTxt, SPF] },
    {
      name: fqdn(`_dmarc.${stack.mailDomain}`),
      type: 'TXT',
      values: [`"v=DMARC1; p=quarantine; rua=mailto:dmarc@${stack.mailDomain}"`],
    },
    ...tokens.map((t) => ({
      name: fqdn(`${t}._domainkey.${stack.mailDomain}`),
      type: 'CNAME' as const,
      values: [`${t}.dkim.amazonses.com`],
    })),
  ];
  return { records, dkimMissing: tokens.length === 0 };
}

function differs(existing: ResourceRecordSet[], d: Desired): boolean {
  const have =
    existing.find((r) => r.Name === d.name && r.Type === d.type)?.ResourceRecords?.map((r) => r.Value!) ?? [];
  return [...have].sort().join('\n') !== [...d.values].sort().join('\n');
}

async function plan(ctx: SetupContext): Promise<{ state?: StepState; changed: Desired[]; dkimMissing: boolean }> {
  const existing = await ctx.aws.listRecordSets(ctx.stack.parentZoneId);
  const desired = await desiredRecords(ctx, existing);
  if (!('records' in desired)) return { state: desired, changed: [], dkimMissing: false };
  return { changed: desired.records.filter((d) => differs(existing, d)), dkimMissing: desired.dkimMissing };
}

export const dnsStep: Step = {
  pollable: true,
  num: 6,
  id: 'dns',
  title: 'Publish DNS records (hosts, MX, SPF, DMARC, DKIM)',
  async check(ctx) {
    const p = await plan(ctx);
    if (p.state) return p.state;
    if (p.changed.length > 0) {
      // One UPSERT batch for every changed record, never CREATE: idempotent, and no duplicate
      // RRsets (moto 5.2.1 as well). Each record's row applies that one batch.
      const upsert = once(() =>
        ctx.aws.changeRecordSets(
          ctx.stack.parentZoneId,
          p.changed.map((d) => ({
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: d.name,
              Type: d.type,
              TTL: 300,
              ResourceRecords: d.values.map((Value) => ({ Value })),
            },
          })),
          `agentkeys setup (${ctx.stack.name})`,
        ),
      );
      return pending(p.changed.map((d) => change('update', `${d.type} ${d.name}`, upsert, d.values.join(' '))));
    }
    if (p.dkimMissing)
      return waiting(
        `SES has not issued DKIM tokens for ${ctx.stack.mailDomain} yet; the other records are published`,
        `re-run once SES shows them: ${rerun(ctx, '6')}`,
      );
    return done(`${ctx.stack.hosts.length} A records → ${ctx.state.eip}, mail records for ${ctx.stack.mailDomain}`);
  },
  /** Only records that point at this stack's EIP or SES, deleted with their current values. */
  async teardown(ctx) {
    const { stack, aws } = ctx;
    const eips = new Set((await aws.addressesByTag(stack.eipTag)).map((a) => a.publicIp));
    const owned = new Set([...stack.hosts, stack.mailDomain, `_dmarc.${stack.mailDomain}`].map(fqdn));
    const ours = (await aws.listRecordSets(stack.parentZoneId))
      .filter(
        (r) =>
          RECORD_TYPES.has(r.Type!) && (owned.has(r.Name!) || r.Name!.endsWith(`._domainkey.${stack.mailDomain}.`)),
      )
      .filter((r) => r.Type !== 'A' || r.ResourceRecords?.every((v) => eips.has(v.Value!)));
    if (ours.length === 0) return [];
    const batch = ours.map((r) => ({ Action: 'DELETE' as const, ResourceRecordSet: r }));
    return [
      {
        resource: `${ours.length} DNS record(s) in ${stack.zone}`,
        action: 'delete',
        apply: () => aws.changeRecordSets(stack.parentZoneId, batch, `agentkeys teardown (${stack.name})`),
      },
    ];
  },
  async verify(ctx) {
    const records = await ctx.aws.listRecordSets(ctx.stack.parentZoneId);
    const a = records
      .find((r) => r.Name === fqdn(ctx.stack.brokerHost) && r.Type === 'A')
      ?.ResourceRecords?.map((r) => r.Value);
    return a?.length === 1 && a[0] === ctx.state.eip
      ? undefined
      : `${ctx.stack.brokerHost} A is ${a?.join(', ') ?? 'missing'}, not ${ctx.state.eip}`;
  },
};
