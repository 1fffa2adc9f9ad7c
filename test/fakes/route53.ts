// Models: hosted zones by id with record sets keyed by name and type; ChangeResourceRecordSets
// batches of UPSERT, CREATE and DELETE applied all or nothing, as Route 53 does.
// Leaves out: alias records, routing policies, SOA/NS records, change propagation.
import type { Route53Api, ResourceRecordSet } from '../../src/aws/route53.js';
import { AgentkeysError } from '../../src/errors.js';

export function fakeRoute53() {
  const zones = new Map<string, { name: string; records: Map<string, ResourceRecordSet> }>();
  let seq = 0;
  const key = (r: ResourceRecordSet) => `${r.Name} ${r.Type}`;
  const api: Route53Api = {
    getHostedZone: async (id) =>
      zones.has(id)
        ? { name: zones.get(id)!.name, private: false, nameServers: ['ns-1.awsdns-01.org', 'ns-2.awsdns-02.com'] }
        : undefined,
    testDnsAnswer: async (id, name, type) => {
      const r = zones.get(id)?.records.get(`${name.replace(/\.?$/, '.')} ${type}`);
      return r
        ? { code: 'NOERROR', data: (r.ResourceRecords ?? []).map((x) => x.Value!) }
        : { code: 'NXDOMAIN', data: [] };
    },
    listRecordSets: async (id) => [...(zones.get(id)?.records.values() ?? [])].map((r) => structuredClone(r)),
    changeRecordSets: async (id, changes) => {
      const zone = zones.get(id);
      if (!zone)
        throw new AgentkeysError({ code: 'AWS_CALL_FAILED', message: `no hosted zone ${id} (fake NoSuchHostedZone)` });
      const next = new Map(zone.records);
      for (const c of changes) {
        const k = key(c.ResourceRecordSet!);
        if (c.Action === 'CREATE' && next.has(k))
          throw new AgentkeysError({ code: 'AWS_CALL_FAILED', message: `${k} exists (fake InvalidChangeBatch)` });
        if (c.Action === 'DELETE') {
          if (!next.has(k))
            throw new AgentkeysError({ code: 'AWS_CALL_FAILED', message: `${k} not found (fake InvalidChangeBatch)` });
          next.delete(k);
        } else next.set(k, structuredClone(c.ResourceRecordSet!));
      }
      zone.records = next;
    },
  };
  return {
    api,
    addZone(name: string): string {
      const id = `ZFAKE${++seq}`;
      zones.set(id, { name: `${name}.`, records: new Map() });
      return id;
    },
  };
}
