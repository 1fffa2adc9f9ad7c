import { spawnSync } from 'node:child_process';
import { AgentkeysError, UsageError } from '../errors.js';
import type { SetupAws } from '../aws/setup-api.js';
import type { Stack } from '../config/stack.js';
import { blocked, done, reportStep, type SetupContext, type Step } from './step.js';
import type { ResolveNs } from '../broker/dns.js';

/**
 * The caller check, once per run (upstream repeated it in every helper): the account must be
 * ACCOUNT_ID, and the principal must match the allow-list (glob patterns over the caller ARN;
 * default: any principal of the account).
 */
export async function checkCaller(
  aws: SetupAws,
  stack: Stack,
  allowList: readonly string[],
): Promise<{ account: string; arn: string }> {
  const caller = await aws.callerIdentity();
  if (caller.account !== stack.accountId) {
    throw new UsageError({
      code: 'WRONG_ACCOUNT',
      message:
        `the credentials are for account ${caller.account} (${caller.arn}), but ` +
        `${stack.operatorEnvFile} says ACCOUNT_ID=${stack.accountId}`,
      hint: 'switch profile (--profile / AWS_PROFILE) or fix ACCOUNT_ID; nothing was changed',
    });
  }
  if (allowList.length > 0 && !allowList.some((p) => globMatch(p, caller.arn))) {
    throw new UsageError({
      code: 'CALLER_NOT_ALLOWED',
      message: `${caller.arn} is not in the principal allow-list (${allowList.join(', ')})`,
      hint: 'use an allowed principal, or change SETUP_ALLOWED_PRINCIPALS',
    });
  }
  return caller;
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

/** Upstream needed aws, jq, curl, openssl, awk and sed; agentkeys needs none of them. */
const toolsStep = reportStep({
  num: 1,
  id: 'tools',
  title: 'Check local tools',
  async report() {
    const ssh = spawnSync('ssh', ['-V'], { stdio: 'ignore' }).status === 0;
    return done(
      `node ${process.version}; no AWS CLI, jq or openssl needed` +
        (ssh ? '' : ' (ssh not found: agentkeys ssh will need it)'),
    );
  },
});

/** The env files were parsed and validated before any step ran (every problem listed, exit 2). */
const envStep = reportStep({
  num: 2,
  id: 'env',
  title: 'Load and validate the env files',
  report: async (ctx) =>
    done(
      `${ctx.stack.name} stack: ${ctx.stack.operatorEnvFile} + ${ctx.stack.brokerEnvFile}, region ${ctx.stack.region}`,
    ),
});

/** The caller was checked once before the steps (account == ACCOUNT_ID, allow-list); this adds the zone. */
const callerStep = reportStep({
  num: 3,
  id: 'caller',
  title: 'Check the caller and the hosted zone',
  async report(ctx) {
    const { stack } = ctx;
    const zone = await ctx.aws.getHostedZone(stack.parentZoneId);
    if (!zone)
      return blocked(
        `hosted zone ${stack.parentZoneId} does not exist in account ${stack.accountId}`,
        'set PARENT_ZONE_ID (aws route53 list-hosted-zones-by-name)',
      );
    if (zone.name.replace(/\.$/, '') !== stack.zone)
      return blocked(
        `hosted zone ${stack.parentZoneId} is ${zone.name}, not ${stack.zone}`,
        'PARENT_ZONE_ID and ZONE must name the same zone',
      );
    return done(`${ctx.state.caller?.arn ?? 'caller'} in ${stack.accountId}; zone ${stack.zone}`);
  },
});

/** Steps 1–3 of upstream's numbering: read-only, nothing to change or tear down. */
export const PREFLIGHT_STEPS: readonly Step[] = [toolsStep, envStep, callerStep];

/** One thing preflight found wrong, and the command that fixes it. */
export interface PreflightProblem {
  what: string;
  fix: string;
}

export interface PreflightOptions {
  /** Public DNS (DoH) for the delegation check; undefined where the zone is not public DNS's (moto). */
  resolveNs?: ResolveNs;
}

/** A t3.micro's 1 GiB is OOM-killed building the broker; a t3.small's 2 GiB is the minimum. */
export const MIN_MEMORY_MIB = 2048;
/** 22 for SSH (checked apart: any source), 80 for certbot's HTTP-01 challenge, 443 for TLS. */
const PUBLIC_PORTS = [80, 443] as const;

/**
 * The usual causes of a failed first deploy, before anything is changed: the parent zone public and delegated to
 * Route 53 in public DNS, the instance big enough and reachable on 22/80/443, the EIP a public
 * address. Read-only; every problem is listed with its fix.
 */
export async function preflight(ctx: SetupContext, opts: PreflightOptions = {}): Promise<PreflightProblem[]> {
  const checks = await Promise.all([zoneProblems(ctx, opts), instanceProblems(ctx), eipProblems(ctx)]);
  return checks.flat();
}

async function zoneProblems(ctx: SetupContext, opts: PreflightOptions): Promise<PreflightProblem[]> {
  const { stack, aws } = ctx;
  const zone = await aws.getHostedZone(stack.parentZoneId);
  if (!zone) return []; // step 3 says so, with its fix
  if (zone.private)
    return [
      {
        what: `hosted zone ${stack.parentZoneId} (${stack.zone}) is private: ACME and STS resolve names in public DNS`,
        fix:
          `set PARENT_ZONE_ID in ${stack.operatorEnvFile} to the public zone's ID ` +
          '(aws route53 list-hosted-zones-by-name)',
      },
    ];
  if (!opts.resolveNs) return [];
  const answer = await opts.resolveNs(stack.zone);
  const want = zone.nameServers.map((n) => n.toLowerCase().replace(/\.$/, ''));
  const fix = `at your registrar (or in the parent zone), set the NS records of ${stack.zone} to: ${want.join(' ')}`;
  if ('error' in answer) return [{ what: `public DNS has no delegation for ${stack.zone}: ${answer.error}`, fix }];
  if (!want.every((n) => answer.nameServers.includes(n)))
    return [
      {
        what: `public DNS delegates ${stack.zone} to ${answer.nameServers.join(' ')}, not to its Route 53 name servers`,
        fix,
      },
    ];
  return [];
}

async function instanceProblems(ctx: SetupContext): Promise<PreflightProblem[]> {
  const { stack, aws } = ctx;
  const id = stack.instanceId;
  if (!id) return [];
  const net = await aws.describeInstanceNetwork(id);
  if (!net) return []; // the EIP and SSH steps say so, with their fixes
  const problems: PreflightProblem[] = [];
  const memory = net.instanceType ? await aws.instanceTypeMemoryMiB(net.instanceType) : undefined;
  if (memory !== undefined && memory < MIN_MEMORY_MIB)
    problems.push({
      what:
        `${id} is a ${net.instanceType} (${memory} MiB): ` +
        `building the broker needs ${MIN_MEMORY_MIB} MiB (t3.small)`,
      fix:
        `aws ec2 stop-instances --instance-ids ${id} && aws ec2 modify-instance-attribute --instance-id ${id} ` +
        `--instance-type t3.small && aws ec2 start-instances --instance-ids ${id} (the EIP stays attached)`,
    });
  const rules = await aws.securityGroupIngress(net.securityGroupIds);
  const group = net.securityGroupIds[0] ?? 'SG';
  const open = (port: number, everywhere: boolean) =>
    rules.some(
      (r) =>
        (r.protocol === '-1' || (r.protocol === 'tcp' && (r.fromPort ?? 0) <= port && port <= (r.toPort ?? 65535))) &&
        (everywhere ? r.sources.some((s) => s === '0.0.0.0/0' || s === '::/0') : r.sources.length > 0),
    );
  const authorize = (port: number) =>
    `aws ec2 authorize-security-group-ingress --group-id ${group} --protocol tcp --port ${port} --cidr 0.0.0.0/0`;
  if (!open(22, false))
    problems.push({ what: `no security group of ${id} lets SSH (tcp 22) in from anywhere`, fix: authorize(22) });
  for (const port of PUBLIC_PORTS)
    if (!open(port, true))
      problems.push({
        what:
          `the security groups of ${id} do not open tcp ${port} to 0.0.0.0/0 ` +
          (port === 80 ? "(Let's Encrypt's HTTP-01 challenge)" : '(TLS for STS and the clients)'),
        fix: authorize(port),
      });
  return problems;
}

async function eipProblems(ctx: SetupContext): Promise<PreflightProblem[]> {
  return eipProblem(ctx.stack.brokerEnvFile, ctx.stack.eip);
}

/** EIP (from the broker env file) when it is not a public address; broker setup's preflight too. */
export function eipProblem(brokerEnvFile: string, eip: string | undefined): PreflightProblem[] {
  const range = eip ? nonPublicRange(eip) : undefined;
  if (!eip || !range) return [];
  return [
    {
      what: `EIP=${eip} in ${brokerEnvFile} is a ${range} address, not an Elastic IP`,
      fix: `set EIP to the instance's Elastic IP (aws ec2 describe-addresses), or empty it and let step 4 allocate one`,
    },
  ];
}

/**
 * The ranges an EIP never comes from that a wrong value usually does: RFC 1918 (a private address
 * copied by mistake) and 198.18.0.0/15 (the fake IPs VPN clients such as WARP, Zscaler and Tailscale
 * answer with). Loopback is not listed: AWS never hands it out, and moto does.
 */
export function nonPublicRange(ip: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return 'malformed';
  const [a, b] = [Number(m[1]), Number(m[2])];
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private (RFC 1918)';
  if (a === 198 && (b === 18 || b === 19)) return 'VPN fake-IP (198.18.0.0/15)';
  return undefined;
}

/** Every problem preflight found, before anything was changed; one error listing them with their fixes. */
export function refuseFailedPreflight(problems: readonly PreflightProblem[]): void {
  if (problems.length === 0) return;
  throw new AgentkeysError({
    code: 'PREFLIGHT_FAILED',
    message:
      `preflight found ${problems.length} problem(s); nothing was changed:\n` +
      problems.map((p) => `  - ${p.what}\n    fix: ${p.fix}`).join('\n'),
    hint: 'fix them and run again, or --skip-preflight to go ahead anyway',
  });
}
