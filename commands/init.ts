import * as path from 'node:path';
import { INIT_FIELDS, initProject, type InitValues } from '../src/config/init.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { createContext, type GlobalOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';
import { askText } from './ui/prompt.js';

export interface InitOptions extends GlobalOptions {
  accountId?: string;
  zone?: string;
  parentZoneId?: string;
  brokerHost?: string;
  mailDomain?: string;
  force?: boolean;
}

/**
 * `agentkeys init [DIR]`: the four env files of a new account (prod and test stacks) with the five
 * values, asked for on a terminal when a flag does not give them, and a state folder git ignores.
 */
export async function runInit(options: InitOptions, positional: unknown[]): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const dir = path.resolve((positional[0] as string | undefined) ?? '.');
  const given: Record<string, string | undefined> = {
    accountId: options.accountId,
    zone: options.zone,
    parentZoneId: options.parentZoneId,
    brokerHost: options.brokerHost,
    mailDomain: options.mailDomain,
  };
  const missing: string[] = [];
  for (const field of INIT_FIELDS) {
    if (given[field.key] !== undefined) continue;
    const zone = given.zone;
    if (field.key === 'brokerHost' && zone) given.brokerHost = `broker.${zone}`;
    else if (field.key === 'mailDomain' && zone) given.mailDomain = `bots.${zone}`;
    else given[field.key] = await askText(field.question, ctx.out.json);
    if (given[field.key] === undefined) missing.push(field.flag);
  }
  if (missing.length > 0)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: `init needs ${missing.join(', ')} (no terminal to ask on)`,
      hint: 'agentkeys init --account-id 123456789012 --zone example.org --parent-zone-id Z0123456789ABC',
    });
  const values = { ...given, region: options.region ?? 'us-east-1' } as unknown as InitValues;
  const result = await initProject(dir, values, options.force === true);
  if (ctx.out.json) {
    printJson({ ok: true, ...result });
    return 0;
  }
  for (const f of result.written) printLine(`${style.ok('✔')} wrote ${path.relative(process.cwd(), f) || f}`);
  printLine(`${style.ok('✔')} ${result.stateDir} (git ignores it: keys and credentials live there)`);
  printLine('next, from that folder:');
  printLine('  agentkeys setup --test --plan      # what setup would create in the test stack');
  printLine('  agentkeys setup --test --yes       # then broker setup, setup --only-step oidc, doctor');
  return 0;
}
