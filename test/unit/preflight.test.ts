// Preflight (issue 27, seed 004 §1, §2, §5b): what it says before setup touches anything. On the
// fakes (every fake instance is a t3.small open on 22/80/443) with the delegation answer injected;
// test/integ/preflight.test.ts runs the instance checks against moto through the CLI.
import { describe, expect, it } from 'vitest';
import { nonPublicRange, preflight } from '../../src/setup/preflight.js';
import { setEnvValue } from '../../src/config/env-writeback.js';
import { fakeSetup } from '../fakes/setup-context.js';

const ROUTE53 = ['ns-1.awsdns-01.org', 'ns-2.awsdns-02.com'];

describe('preflight', () => {
  it('passes a public zone delegated to its Route 53 name servers, a t3.small open on 22/80/443', async () => {
    const env = await fakeSetup();
    const problems = await preflight(await env.context(), {
      resolveNs: async () => ({ nameServers: [...ROUTE53, 'ns-extra.example'] }),
    });
    expect(problems).toEqual([]);
  });

  it('names a delegation elsewhere, or none, with the NS records to set', async () => {
    const env = await fakeSetup();
    const ctx = await env.context();
    const elsewhere = await preflight(ctx, { resolveNs: async () => ({ nameServers: ['ns1.registrar.example'] }) });
    expect(elsewhere).toEqual([
      {
        what: 'public DNS delegates litentry.org to ns1.registrar.example, not to its Route 53 name servers',
        fix: `at your registrar (or in the parent zone), set the NS records of litentry.org to: ${ROUTE53.join(' ')}`,
      },
    ]);
    const none = await preflight(ctx, { resolveNs: async () => ({ error: 'NXDOMAIN' }) });
    expect(none[0]!.what).toBe('public DNS has no delegation for litentry.org: NXDOMAIN');
  });

  it('an EIP from RFC 1918 or a VPN fake-IP range is named with the fix; public and loopback pass', async () => {
    expect(['10.0.0.5', '172.20.1.1', '192.168.1.9', '198.18.0.7', '198.19.255.1'].map(nonPublicRange)).toEqual([
      'private (RFC 1918)',
      'private (RFC 1918)',
      'private (RFC 1918)',
      'VPN fake-IP (198.18.0.0/15)',
      'VPN fake-IP (198.18.0.0/15)',
    ]);
    expect(['3.214.219.209', '172.32.0.1', '198.20.0.1', '127.0.0.1'].map(nonPublicRange)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    const env = await fakeSetup();
    const ctx = await env.context();
    await setEnvValue(ctx.stack.brokerEnvFile, 'EIP', '198.18.0.7');
    const problems = await preflight(await env.context());
    expect(problems).toEqual([
      {
        what: `EIP=198.18.0.7 in ${ctx.stack.brokerEnvFile} is a VPN fake-IP (198.18.0.0/15) address, not an Elastic IP`,
        fix: "set EIP to the instance's Elastic IP (aws ec2 describe-addresses), or empty it and let step 4 allocate one",
      },
    ]);
  });
});
