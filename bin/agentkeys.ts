#!/usr/bin/env node
// The whole command-line surface: every command and flag is defined here, commands are imported
// lazily (so --help stays fast), and this is the only place errors become exit codes.
import { Command, CommanderError } from 'commander';
import type { ExitCode } from '../src/errors.js';

const program = new Command('agentkeys')
  .description('Provision, sign, verify and rotate the AWS side of an AI-agent key-management deployment')
  .version('0.1.0')
  .option('--json', 'machine output on stdout, nothing else there')
  .option('--debug', 'stack traces and causes on errors')
  .option('--env-file <file>', 'settings file (KEY=value); default .agentkeys/agentkeys.env if present')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const keys = program.command('keys').description('create and inspect signing keys');
keys
  .command('create')
  .description('create a signing key (--local: a key file on this machine)')
  .option('--local', 'keep the key in a 0600 file under <dir>/keys/')
  .option('--alg <alg>', 'ed25519 | rsa-sha256 | ecdsa-p256 | ecdsa-secp256k1 | hmac-sha256')
  .option('--kid <kid>', 'signer key id written into every event (signer_kid)')
  .option('--dir <dir>', 'key directory (default .agentkeys, env AGENTKEYS_DIR)')
  .option('--signers <file>', 'signer registry to add the public key to (default <dir>/signers.json)')
  .option('--description <text>', 'note stored with the public key')
  .action(lazy(async (opts) => (await import('../commands/keys-create.js')).runKeysCreate(opts)));

program
  .command('sign')
  .description('append signed events to an audit log (Agent Manager row format)')
  .option('--log <log>', 'JSON Lines file or postgres:// URL (env AGENTKEYS_AUDIT_LOG, DATABASE_URL)')
  .option('--key <keyref>', 'local:<kid> | file:<pem or secret file> | kms:<id|alias|arn> (env AUDIT_SIGNING_*)')
  .option('--signer-kid <kid>', 'signer_kid to record (default: the key id or file name)')
  .option('--event-type <type>', 'event_type of the event')
  .option('--actor <actor>', 'actor_id of the event')
  .option('--payload <json>', "payload JSON, @file, or - for stdin")
  .option('--batch', 'read one event per JSON line from stdin: {"event_type","actor_id","payload"}')
  .option('--dir <dir>', 'local key directory (default .agentkeys)')
  .option('--alg <alg>', 'expected algorithm (env AUDIT_SIGNING_ALG); hmac-sha256 for secret files')
  .action(lazy(async (opts) => (await import('../commands/sign.js')).runSign(opts)));

program
  .command('verify-audit')
  .description('verify an audit log offline: digests, links, signatures, anchor')
  .option('--log <log>', 'JSON Lines file or postgres:// URL (env AGENTKEYS_AUDIT_LOG, DATABASE_URL)')
  .option('--signers <file>', 'signer registry (default .agentkeys/signers.json, env KERNEL_PUBLIC_KEYS_PATH)')
  .option('--hmac-key <kid=file>', 'HMAC secret for a signer (repeatable)', collect, [])
  .option('--anchor <file>', 'signed anchor (default <log>.anchor.json when present)')
  .option('--no-anchor', 'ignore the anchor')
  .option('--from <digest>', 'trusted digest the first event links to (a checkpoint)')
  .option('--workers <n>', 'worker threads (default: all cores for logs over 1 MiB)')
  .option('--slack <seconds>', 'tolerance on signer validity windows', '60')
  .action(lazy(async (opts) => (await import('../commands/verify-audit.js')).runVerifyAudit(opts)));

const audit = program.command('audit').description('query and copy audit chains (JSON Lines or Postgres)');
audit
  .command('query')
  .description('events newest first, filtered by agent, action and time')
  .option('--log <log>', 'JSON Lines file or postgres:// URL (env AGENTKEYS_AUDIT_LOG, DATABASE_URL)')
  .option('--agent <actor>', 'actor_id')
  .option('--action <type>', 'event_type')
  .option('--since <time>', 'ISO time or age (24h, 7d)')
  .option('--until <time>', 'ISO time or age (exclusive)')
  .option('--limit <n>', 'at most n events', '50')
  .action(lazy(async (opts) => (await import('../commands/audit.js')).runAuditQuery(opts)));
audit
  .command('export')
  .description('copy a chain between a file and Postgres, unchanged')
  .option('--log <src>', 'source: JSON Lines file or postgres:// URL')
  .option('--out <dest>', 'destination (must be empty): file or postgres:// URL')
  .action(lazy(async (opts) => (await import('../commands/audit.js')).runAuditExport(opts)));

program
  .command('db')
  .description('the PostgreSQL audit store')
  .command('migrate')
  .description('apply the numbered, append-only SQL migrations')
  .option('--database-url <url>', 'postgres:// URL (env DATABASE_URL)')
  .option('--plan', 'list pending migrations and exit 4 if any; change nothing')
  .action(lazy(async (opts) => (await import('../commands/db-migrate.js')).runDbMigrate(opts)));

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

type Runner = (opts: Record<string, unknown>) => Promise<ExitCode>;

function lazy(run: (opts: any) => Promise<ExitCode>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    process.exitCode = await (run as Runner)(cmd.optsWithGlobals());
  };
}

async function main(): Promise<void> {
  process.on('SIGINT', () => process.exit(130));
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    process.exitCode = await exitCodeFor(err);
  }
}

async function exitCodeFor(err: unknown): Promise<ExitCode> {
  if (err instanceof CommanderError) {
    // commander already printed its message; help and version exit 0.
    return err.exitCode === 0 ? 0 : 2;
  }
  const globals = program.opts<{ json?: boolean; debug?: boolean }>();
  const { printError } = await import('../commands/ui/format.js');
  const { isAgentkeysError } = await import('../src/errors.js');
  printError(err, { json: globals.json === true, debug: globals.debug === true });
  if (isAgentkeysError(err)) return err.exitCode;
  if ((err as Error)?.name === 'ExitPromptError') return 130;
  return 1;
}

await main();
