import {
  TestDNSAnswerCommand,
  type RRType,
  Route53Client,
  ChangeResourceRecordSetsCommand,
  GetHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  type Change,
} from '@aws-sdk/client-route-53';
import type { AwsServiceContext } from './service.js';
import { observeCalls } from './call.js';

export type { Change, ResourceRecordSet };

/** The Route 53 calls agentkeys makes, and nothing else. */
export interface Route53Api {
  /** The zone's name, whether it is private, and the name servers Route 53 delegated it to. */
  getHostedZone(id: string): Promise<{ name: string; private: boolean; nameServers: string[] } | undefined>;
  listRecordSets(zoneId: string): Promise<ResourceRecordSet[]>;
  changeRecordSets(zoneId: string, changes: Change[], comment: string): Promise<void>;
  /** What Route 53's own name servers answer for a record (doctor: no local resolver in the way). */
  testDnsAnswer(zoneId: string, name: string, type: string): Promise<{ code: string; data: string[] }>;
}

export function createRoute53Api(ctx: AwsServiceContext): Route53Api {
  const caller = ctx.caller;
  const r53 = observeCalls(new Route53Client(ctx.config), 'route53', ctx.onCall);
  return {
    testDnsAnswer: (zoneId, name, type) =>
      caller.call('route53:TestDNSAnswer', name, async () => {
        const out = await r53.send(
          new TestDNSAnswerCommand({ HostedZoneId: zoneId, RecordName: name, RecordType: type as RRType }),
        );
        return { code: out.ResponseCode ?? 'UNKNOWN', data: out.RecordData ?? [] };
      }),
    getHostedZone: (id) =>
      caller.maybe('route53:GetHostedZone', id, async () => {
        const out = await r53.send(new GetHostedZoneCommand({ Id: id }));
        return {
          name: out.HostedZone!.Name!,
          private: out.HostedZone!.Config?.PrivateZone === true,
          nameServers: out.DelegationSet?.NameServers ?? [],
        };
      }),
    listRecordSets: (zoneId) =>
      caller.call('route53:ListResourceRecordSets', zoneId, async () => {
        const out: ResourceRecordSet[] = [];
        let start: {
          StartRecordName?: string;
          StartRecordType?: ResourceRecordSet['Type'];
          StartRecordIdentifier?: string;
        } = {};
        for (;;) {
          const page = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, ...start }));
          out.push(...(page.ResourceRecordSets ?? []));
          if (!page.IsTruncated || !page.NextRecordName) return out;
          start = {
            StartRecordName: page.NextRecordName,
            ...(page.NextRecordType ? { StartRecordType: page.NextRecordType } : {}),
            ...(page.NextRecordIdentifier ? { StartRecordIdentifier: page.NextRecordIdentifier } : {}),
          };
        }
      }),
    changeRecordSets: (zoneId, changes, comment) =>
      caller.call(
        'route53:ChangeResourceRecordSets',
        zoneId,
        async () =>
          void (await r53.send(
            new ChangeResourceRecordSetsCommand({
              HostedZoneId: zoneId,
              ChangeBatch: { Comment: comment, Changes: changes },
            }),
          )),
      ),
  };
}
