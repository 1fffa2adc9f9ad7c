// `agentkeys init`: a new account's four env files from the shipped examples, with the five values
// a stack must change, and a state folder that git ignores. Everything else in the files derives
// from those five; the result is loaded as setup would load it before anything is reported done.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import { packageRoot, writeFileAtomic } from '../sys/fs.js';
import { setEnvValue } from './env-writeback.js';
import { DEFAULT_DIR } from './load.js';
import { loadStack, type Stack } from './stack.js';

/** The values a stack cannot derive (everything else in its env files follows from them). */
export type InitValues = Pick<Stack, 'accountId' | 'region' | 'zone' | 'parentZoneId' | 'brokerHost' | 'mailDomain'>;

export interface InitResult {
  written: string[];
  stateDir: string;
}

/** The values a stack cannot derive, with the defaults that follow from the zone. */
export const INIT_FIELDS = [
  { key: 'accountId', flag: '--account-id', question: 'AWS account ID (12 digits)' },
  { key: 'zone', flag: '--zone', question: 'DNS zone agentkeys lives in (its Route 53 hosted zone must exist)' },
  { key: 'parentZoneId', flag: '--parent-zone-id', question: "that hosted zone's ID (Z…)" },
  { key: 'brokerHost', flag: '--broker-host', question: 'the broker host name (default broker.<zone>)' },
  { key: 'mailDomain', flag: '--mail-domain', question: 'the mail domain agents receive at (default bots.<zone>)' },
] as const;

export function checkInitValues(v: InitValues): void {
  const problems: string[] = [];
  if (!/^\d{12}$/.test(v.accountId)) problems.push(`--account-id "${v.accountId}" is not 12 digits`);
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(v.zone)) problems.push(`--zone "${v.zone}" is not a DNS name`);
  if (!/^Z[A-Z0-9]{4,32}$/.test(v.parentZoneId))
    problems.push(`--parent-zone-id "${v.parentZoneId}" is not a Route 53 hosted zone ID (Z…)`);
  for (const [flag, name] of [
    ['--broker-host', v.brokerHost],
    ['--mail-domain', v.mailDomain],
  ] as const)
    if (!name.endsWith(`.${v.zone}`)) problems.push(`${flag} "${name}" is not inside the zone ${v.zone}`);
  if (!/^[a-z]{2}-[a-z]+-\d$/.test(v.region)) problems.push(`--region "${v.region}" is not an AWS region`);
  if (problems.length > 0)
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `init: ${problems.length} value(s) to fix`,
      details: problems,
      hint: 'agentkeys init --account-id 123456789012 --zone example.org --parent-zone-id Z0123456789ABC',
    });
}

/** The test stack's names beside prod's: test-broker.<zone>, <mail label>-test.<zone>. */
function testNames(v: InitValues): { brokerHost: string; mailDomain: string } {
  const [label, ...rest] = v.mailDomain.split('.');
  return { brokerHost: `test-${v.brokerHost}`, mailDomain: [`${label}-test`, ...rest].join('.') };
}

export async function initProject(dir: string, v: InitValues, force: boolean): Promise<InitResult> {
  checkInitValues(v);
  const envDir = path.join(dir, 'env');
  const files = ['operator-workstation.env', 'operator-workstation.test.env', 'broker.env', 'broker.test.env'];
  const existing = files.map((f) => path.join(envDir, f)).filter((f) => existsSync(f));
  if (existing.length > 0 && !force)
    throw new UsageError({
      code: 'OUTPUT_EXISTS',
      message: `${existing.join(', ')} exist; nothing was written`,
      hint: 'edit them, or pass --force to write them again from the examples',
    });
  mkdirSync(envDir, { recursive: true });
  const shipped = path.join(packageRoot(import.meta.url), 'env');
  for (const f of files) copyFileSync(path.join(shipped, f), path.join(envDir, f));
  for (const test of [false, true]) {
    const names = test ? testNames(v) : v;
    const suffix = test ? '.test' : '';
    const operator = path.join(envDir, `operator-workstation${suffix}.env`);
    const broker = path.join(envDir, `broker${suffix}.env`);
    for (const [key, value] of [
      ['ACCOUNT_ID', v.accountId],
      ['REGION', v.region],
      ['ZONE', v.zone],
      ['PARENT_ZONE_ID', v.parentZoneId],
      ['BROKER_HOST', names.brokerHost],
      ['MAIL_DOMAIN', names.mailDomain],
    ] as const)
      await setEnvValue(operator, key, value);
    for (const [key, value] of [
      ['ACCOUNT_ID', v.accountId],
      ['BROKER_AWS_REGION', v.region],
      ['BROKER_OIDC_ISSUER', `https://${names.brokerHost}`],
      ['BROKER_EMAIL_FROM_ADDRESS', `noreply${test ? '-test' : ''}@${names.mailDomain}`],
    ] as const)
      await setEnvValue(broker, key, value);
    // Read back as setup reads them: a value that makes a bad stack fails here, not at setup.
    await loadStack({ test, envDir, baseEnv: {} });
  }
  const stateDir = path.join(dir, DEFAULT_DIR);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  // Keys, access keys and receipts stay out of any repository the folder is in.
  await writeFileAtomic(path.join(stateDir, '.gitignore'), '# agentkeys state: keys and credentials\n*\n');
  return { written: files.map((f) => path.join(envDir, f)), stateDir };
}
