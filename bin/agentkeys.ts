#!/usr/bin/env -S node --
// The `--` ends node's own options: Node 20 otherwise takes a script argument named --env-file
// as its own and exits 9 when the file is missing, before agentkeys runs (nodejs/node#54232).
// The whole command-line surface: every command and flag is defined here, commands are imported
// lazily (so --help stays fast), and this is the only place errors become exit codes.
import { Command, CommanderError } from 'commander';
import { UsageError, type ErrorCode, type ExitCode } from '../src/errors.js';
import { envNamesOfFlag } from '../src/config/load.js';
import { SIGNING_ALGS } from '../src/signing/algorithms.js';
import { removeInterruptedLeftovers } from '../src/sys/cleanup.js';
import { withSpan } from '../src/sys/tracing.js';
import { tracingRequested } from '../src/sys/telemetry.js';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = '0.1.0';

// The SDK versions are pinned in the lockfile; its notice that future releases need Node 22 is
// for us (docs/development.md), not for the operator on every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const program = new Command('agentkeys')
  .description('Provision, sign, verify and rotate the AWS side of an AI-agent key-management deployment')
  .version(VERSION)
  .option('--json', 'machine output on stdout, nothing else there')
  .option('--debug', 'stack traces and causes on errors')
  .option('--no-color', 'plain output (also NO_COLOR=1)')
  .option('--settings <file>', 'settings file (KEY=value; env AGENTKEYS_SETTINGS); default .agentkeys/agentkeys.env')
  .option(
    '--env-file <file>',
    'the same as --settings (under npx on Node 20, npm itself takes --env-file: use --settings)',
  )
  .option('--region <region>', 'AWS region (env AWS_REGION, VAULT_REGION)')
  .option('--profile <profile>', 'AWS named profile (SSO, static, role profiles)')
  .option('--role-arn <arn>', 'assume this IAM role (AssumeRole) for AWS calls')
  .option('--audit-log <log>', 'record every KMS operation as a signed event in this chain')
  .option('--audit-key <keyref>', 'key that signs the --audit-log events (default: the configured signing key)')
  .option('--follow-symlinks', 'write a log that is a symlink (refused by default)')
  // Parse errors are printed by exitCodeFor in agentkeys' own form (✖ message [CODE], → hint).
  .configureOutput({ outputError: () => undefined })
  .exitOverride();

const keys = program.command('keys').description('create and inspect signing keys');
keys
  .command('create')
  .description('create a signing key (--local: a key file on this machine)')
  .option('--local', 'keep the key in a 0600 file under <dir>/keys/')
  .option('--alg <alg>', 'ed25519 | rsa-sha256 | ecdsa-p256 | ecdsa-secp256k1 | hmac-sha256')
  .option('--kid <kid>', 'signer key id written into every event (signer_kid)')
  .option('--dir <dir>', 'key directory (default .agentkeys)')
  .option('--signers <file>', 'signer registry to add the public key to (default <dir>/signers.json)')
  .option('--description <text>', 'note stored with the key')
  .option(
    '--spec <spec>',
    'KMS key spec: ECC_NIST_P256, ECC_SECG_P256K1, RSA_2048, ECC_NIST_EDWARDS25519, HMAC_256, SYMMETRIC_DEFAULT',
  )
  .option('--alias <alias>', 'KMS alias (an existing alias is adopted, not duplicated)')
  .option('--multi-region', 'create a multi-region primary key')
  .option('--custom-key-store <id>', 'create the key in a CloudHSM custom key store')
  .option('--rotation-period-days <n>', 'symmetric keys: KMS-native rotation period, 90-2560 (default 90)')
  .action(
    lazy(async (opts) =>
      opts.local
        ? (await import('../commands/keys-create.js')).runKeysCreate(opts)
        : (await import('../commands/keys-kms.js')).runKeysCreateKms(opts),
    ),
  );
keys
  .command('sign')
  .description(
    'a detached signature over a file: KMS (RAW up to 4 KB, DIGEST beyond) or a local key; openssl checks it',
  )
  .option('--key <keyref>', 'kms:<id | alias/… | arn>, local:<kid> or file:<PEM>')
  .option('--in <file>', 'the data to sign')
  .option('--out <file>', 'write the signature bytes here (default: base64 on stdout)')
  .option('--alg <alg>', 'KMS signing algorithm (default: the key’s first, e.g. ECDSA_SHA_256)')
  .action(lazy(async (opts) => (await import('../commands/keys-sign.js')).runKeysSign(opts)));
keys
  .command('verify')
  .description('exit 0 if --signature was made over --in by --key, 3 if not (KMS keys: KMS Verify)')
  .option('--key <keyref>', 'kms:<id | alias/… | arn>, local:<kid> or file:<PEM>')
  .option('--in <file>', 'the data that was signed')
  .option('--signature <file|base64>', 'the signature: a file of its bytes, or base64')
  .option('--alg <alg>', 'KMS signing algorithm it was made with')
  .action(lazy(async (opts) => (await import('../commands/keys-sign.js')).runKeysVerify(opts)));
keys
  .command('list')
  .description('customer managed KMS keys of the region: aliases, spec, usage, state, age, rotation')
  .action(lazy(async (opts) => (await import('../commands/keys-lifecycle.js')).runKeysList(opts)));
for (const [verb, what, run] of [
  ['disable', 'disable a KMS key (reversible: keys enable)', 'runKeysDisable'],
  ['enable', 'enable a disabled KMS key', 'runKeysEnable'],
  ['cancel-deletion', 'cancel a scheduled deletion (the key stays Disabled)', 'runKeysCancelDeletion'],
  ['rotate-now', 'RotateKeyOnDemand: new key material now (symmetric keys KMS rotates)', 'runKeysRotateNow'],
] as const)
  keys
    .command(verb)
    .description(what)
    .option('--key <keyref>', 'kms:<id | alias/… | arn>')
    .action(lazy(async (opts) => (await import('../commands/keys-lifecycle.js'))[run](opts)));
keys
  .command('schedule-deletion')
  .description('schedule a KMS key for deletion; refused while a verifier or encrypted data still needs it through KMS')
  .option('--key <keyref>', 'kms:<id | alias/… | arn>')
  .option('--days <n>', 'waiting period, 7-30 days', '30')
  .option('--force', 'schedule even though something still needs the key through KMS')
  .option('--yes', 'confirm without asking')
  .action(lazy(async (opts) => (await import('../commands/keys-lifecycle.js')).runKeysScheduleDeletion(opts)));
keys
  .command('retire')
  .description('disable a rotated-out signing key once its events verify from the registry alone')
  .option('--key <keyref>', 'kms:<id | arn> of the old key')
  .option('--signers <file>', 'registry that must hold its public key (default .agentkeys/signers.json)')
  .option('--force', "retire before the overlap (the registry's validTo) ends")
  .option('--yes', 'confirm without asking')
  .action(lazy(async (opts) => (await import('../commands/keys-lifecycle.js')).runKeysRetire(opts)));
keys
  .command('describe')
  .description('spec, state, origin (CloudHSM), multi-region role, aliases and age of a KMS key')
  .option('--key <keyref>', 'kms:<key id | alias/… | arn>')
  .action(lazy(async (opts) => (await import('../commands/keys-kms.js')).runKeysDescribe(opts)));
keys
  .command('should-rotate')
  .description('exit 0 if the key is due for rotation (90-day interval, 365-day maximum age), 1 if not')
  .option('--key <keyref>', 'kms:<key id | alias/… | arn>')
  .option('--interval-days <n>', 'rotation interval', '90')
  .option('--max-age-days <n>', 'maximum key age', '365')
  .option('--fail-if-due', 'exit 1 when due and 0 when not (for a timer that alerts on failure)')
  .action(lazy(async (opts) => (await import('../commands/keys-kms.js')).runKeysShouldRotate(opts)));
keys
  .command('replicate')
  .description('replicate a multi-region key into other regions')
  .option('--key <keyref>', 'kms:<key id | alias/… | arn> of a multi-region primary')
  .option('--regions <list>', 'comma-separated regions (default us-west-2,eu-west-1)')
  .action(lazy(async (opts) => (await import('../commands/keys-kms.js')).runKeysReplicate(opts)));

program
  .command('signers')
  .description('the signer registry (signers.json)')
  .command('rebuild')
  .description(
    'rebuild signers.json from the signer_kids a log uses (KMS GetPublicKey), merging with the existing file',
  )
  .option('--log <log>', 'JSON Lines file or postgres:// URL')
  .option('--out <file>', 'registry to write (default .agentkeys/signers.json)')
  .option('--plan', 'print the changes, write nothing')
  .option('--strict', 'exit 1 if any signer could not be resolved')
  .action(lazy(async (opts) => (await import('../commands/signers-rebuild.js')).runSignersRebuild(opts)));

program
  .command('sandbox')
  .description('a local AWS (moto) until Ctrl-C, and the environment that points agentkeys and the SDK at it')
  .option('--keep <dir>', 'serve the account a kept `setup --sandbox --keep DIR` made, and keep what is done')
  .action(lazy(async (opts) => (await import('../commands/sandbox.js')).runSandboxServe(opts)));
program
  .command('alert')
  .description("send a failed unit's last journal lines to the alert target (what agentkeys-alert@ runs)")
  .option('--unit <unit>', 'the systemd unit that failed')
  .option('--target <target>', 'sns:TOPIC_ARN | webhook:URL | journal (default journal)')
  .option('--message <text>', 'send this instead of the journal lines')
  .action(lazy(async (opts) => (await import('../commands/alert.js')).runAlert(opts)));
program
  .command('init')
  .description("write a new account's env files (prod and test stacks) from the five values, and a state folder")
  .argument('[dir]', 'the project folder (default: the current one)')
  .option('--account-id <id>', 'the AWS account ID (12 digits)')
  .option('--zone <zone>', 'the DNS zone (its Route 53 hosted zone must exist)')
  .option('--parent-zone-id <id>', "that hosted zone's ID (Z…)")
  .option('--broker-host <host>', 'the broker host name (default broker.<zone>)')
  .option('--mail-domain <domain>', 'the mail domain (default bots.<zone>)')
  .option('--force', 'write the env files again from the examples')
  .action(lazy(async (opts, args) => (await import('../commands/init.js')).runInit(opts, args)));
program
  .command('rotate-key')
  .description('rotate a KMS signing key behind its alias (or the AgentIdP JWT pair with --jwt)')
  .option('--alias <alias>', 'KMS alias whose key is rotated')
  .option('--spec <spec>', "key spec of the new key (default: the old key's)")
  .option('--signers <file>', 'registry to update (default .agentkeys/signers.json)')
  .option('--log <log>', 'append a signer.rotated event, signed by the old key, to this chain')
  .option('--overlap-days <n>', 'days the old key stays valid', '30')
  .option('--kid <kid>', "the new key's kid (default: the old kid's next version, auditor-signing-v1 → -v2)")
  .option('--jwt <dir>', 'rotate the RS256 JWT pair in DIR (jwks.json holds both keys during the overlap)')
  .option('--publish-secret <id>', "with --jwt: set the pair in AgentIdP's Secrets Manager secret (a JSON object)")
  .option('--publish-env <file>', "with --jwt: set the pair in AgentIdP's .env file (made 0600)")
  .option('--ecs-service <cluster/service>', 'with --jwt: restart it after publishing (ECS force new deployment)')
  .option('--restart-command <cmd>', 'with --jwt: run this shell command after publishing (AGENTKEYS_JWT_KID set)')
  .option('--jwks-url <url>', "with --jwt: wait until the service's JWKS serves the new key")
  .option('--wait <seconds>', 'with --jwks-url: how long to wait', '120')
  .option('--finish', "after the overlap: retire the alias's previous key (keys retire)")
  .option('--force', 'with --finish: before the overlap ends')
  .option('--yes', 'confirm without asking')
  .action(lazy(async (opts) => (await import('../commands/rotate-key.js')).runRotateKey(opts)));

for (const mode of ['encrypt', 'decrypt'] as const) {
  program
    .command(mode)
    .argument('[files...]', `files to ${mode} (to FILE.enc / from FILE.enc); default --in/--out or stdin/stdout`)
    .description(
      mode === 'encrypt'
        ? 'envelope-encrypt under a KMS key (AWS Encryption SDK format, streaming)'
        : 'decrypt, requiring the expected encryption context',
    )
    .option(
      '--key <keyref>',
      'kms:<key id | alias/… | arn>; repeatable: encrypt wraps under each, decrypt tries each in order ' +
        '(a replica ARN after its primary is the outage path)',
      collect,
      [],
    )
    .option('--context <k=v>', 'encryption context pair (repeatable)', collect, [])
    .option('--in <file>', 'input (default stdin)')
    .option('--out <file>', 'output, written only when complete (default stdout)')
    .option(
      '--format <format>',
      'esdk (default) or sentinel ({encrypted, encryptedDataKey, iv, authTag, keyId})',
      'esdk',
    )
    .option('--no-cache', 'no data-key cache')
    .option('--cache-ttl <seconds>', 'data-key cache lifetime', '3600')
    .option('--cache-max-messages <n>', 'messages per cached data key', '1000')
    .option('--cache-max-bytes <n>', 'bytes per cached data key')
    .option('--force', 'replace an existing output file')
    .option(
      '--discovery-account <id>',
      'decrypt without --key: only keys of this AWS account (repeatable; one of the two is required)',
      collect,
      [],
    )
    .option('--discovery-partition <p>', 'partition of the --discovery-account keys', 'aws')
    .action(
      lazy(async (opts, args) =>
        (await import('../commands/encrypt.js'))[mode === 'encrypt' ? 'runEncrypt' : 'runDecrypt'](
          opts,
          args[0] as string[],
        ),
      ),
    );
}

program
  .command('sign')
  .description('append signed events to an audit log (Agent Manager row format)')
  .option('--log <log>', 'JSON Lines file or postgres:// URL')
  .option('--key <keyref>', 'local:<kid> | file:<pem or secret file> | kms:<id|alias|arn> (env AUDIT_SIGNING_*)')
  .option('--signer-kid <kid>', 'signer_kid to record (default: the key id or file name)')
  .option('--event-type <type>', 'event_type of the event')
  .option('--actor <actor>', 'actor_id of the event')
  .option('--payload <json>', 'payload JSON, @file, or - for stdin')
  .option('--batch', 'read one event per JSON line from stdin: {"event_type","actor_id","payload"}')
  .option('--dir <dir>', 'local key directory (default .agentkeys)')
  .option('--alg <alg>', 'expected algorithm; hmac-sha256 for secret files')
  .option('--checkpoint-every <n>', 'checkpoint mode: no per-event signature, a signed checkpoint every N events')
  .option(
    '--checkpoint-interval <duration>',
    'checkpoint mode: sign the closing checkpoint only when the newest is older than this (10s, 5m)',
  )
  .option('--origin <origin>', 'the log identity in its checkpoints (default agentkeys.local/<log file name>)')
  .option('--witness <s3url>', 'also write each checkpoint (or, per-row, the anchor) once to this Object Lock bucket')
  .option('--adopt', 'per-row: take a file log that has events but no signed anchor (another tool wrote it)')
  .option('--anchor-every <n>', 'per-row, file log: re-sign the anchor once N events are past it (default 1)')
  .option('--anchor-interval <duration>', 'per-row, file log: re-sign the anchor once it is this old (30s, 5m)')
  .action(lazy(async (opts) => (await import('../commands/sign.js')).runSign(opts)));

program
  .command('verify-audit')
  .description('verify an audit log offline: digests, links, signatures, anchor')
  .option('--log <log>', 'JSON Lines file or postgres:// URL')
  .option('--signers <file>', 'signer registry (default .agentkeys/signers.json)')
  .option('--hmac-key <kid=file>', 'HMAC secret for a signer (repeatable)', collect, [])
  .option('--anchor <file>', 'signed anchor (default <log>.anchor.json when present)')
  .option('--no-anchor', 'ignore the anchor')
  .option('--from <digest>', 'trusted digest the first event links to (a checkpoint)')
  .option('--proof <file>', 'check an inclusion proof bundle (agentkeys audit prove) offline, without the log')
  .option(
    '--witness <s3url>',
    'check the log against every checkpoint witnessed in this bucket, each object version (s3://bucket/prefix)',
  )
  .option('--origin <origin>', 'the log identity its checkpoints name (default agentkeys.local/<log file name>)')
  .option('--workers <n>', 'worker threads (default: all cores for logs over 1 MiB)')
  .option('--slack <seconds>', 'tolerance on signer validity windows', '60')
  .option(
    '--kms-verify [mode]',
    'check HMAC signatures with KMS VerifyMac (mode hmac), or every signature with KMS (all)',
  )
  .action(
    lazy(async (opts) =>
      // --proof checks a bundle without the log: audit prove's counterpart, in commands/checkpoint.ts.
      opts.proof
        ? (await import('../commands/checkpoint.js')).runVerifyProof({ ...opts, proof: opts.proof })
        : (await import('../commands/verify-audit.js')).runVerifyAudit(opts),
    ),
  );

const audit = program.command('audit').description('query and copy audit chains (JSON Lines or Postgres)');
audit
  .command('checkpoint')
  .description(
    'check the log against its checkpoints; --adopt signs one that adopts, on the record, events no writer vouched for',
  )
  .option('--log <log>', 'JSON Lines file')
  .option('--key <keyref>', 'local:<kid> | file:<pem> | kms:<id|alias|arn> (env AUDIT_SIGNING_*)')
  .option('--signer-kid <kid>', 'key name in the signature line (default: the key id)')
  .option('--dir <dir>', 'local key directory (default .agentkeys)')
  .option('--origin <origin>', 'the log identity (default agentkeys.local/<log file name>)')
  .option('--witness <s3url>', 'also write the checkpoint, once, to this Object Lock bucket (s3://bucket/prefix)')
  .option('--adopt', 'vouch for the unsigned events no checkpoint answers for (a killed writer, --checkpoint-interval)')
  .option('--out <file>', "also write the log's newest checkpoint note here (audit consistency --old takes it)")
  .option('--force', 'replace an existing --out file')
  .action(lazy(async (opts) => (await import('../commands/checkpoint.js')).runAuditCheckpoint(opts)));
audit
  .command('prove')
  .description('write an inclusion proof bundle for one event: its leaf, audit path and a checkpoint')
  .option('--log <log>', 'JSON Lines file')
  .requiredOption('--id <event id>', 'the event to prove')
  .option('--out <file>', 'where the bundle goes (default: stdout)')
  .option('--force', 'replace an existing --out file')
  .action(lazy(async (opts) => (await import('../commands/checkpoint.js')).runAuditProve(opts)));
audit
  .command('consistency')
  .description('prove that the log now extends an earlier checkpoint (nothing rewritten, nothing cut)')
  .option('--log <log>', 'JSON Lines file')
  .option('--old <file>', 'the earlier checkpoint note (audit checkpoint --out writes one)')
  .option('--old-size <n>', "or: the log's own checkpoint at this tree size")
  .option('--signers <file>', 'signer registry (default .agentkeys/signers.json)')
  .action(lazy(async (opts) => (await import('../commands/checkpoint.js')).runAuditConsistency(opts)));
audit
  .command('prune')
  .description("AgentIdP's audit retention: delete its rows older than --before (never an agentkeys chain)")
  .option('--database-url <url>', "AgentIdP's postgres:// URL (env DATABASE_URL)")
  .option('--table <name>', "AgentIdP's audit table (audit_events)")
  .option('--before <time>', 'ISO time or age (90d): rows older than this go')
  .option('--plan', 'count what would be deleted; exit 4 if anything would')
  .action(lazy(async (opts) => (await import('../commands/audit-prune.js')).runAuditPrune(opts)));
audit
  .command('query')
  .description('events newest first, filtered by agent, action and time')
  .option('--log <log>', 'JSON Lines file or postgres:// URL')
  .option('--source <source>', "agentkeys (the chain in --log, default) or agentidp (AgentIdP's audit table)")
  .option('--database-url <url>', "with --source agentidp: AgentIdP's postgres:// URL (env DATABASE_URL)")
  .option('--table <name>', "with --source agentidp: AgentIdP's audit table", 'audit_events')
  .option('--actor <actor>', 'actor_id (as on sign; --agent is the older spelling)')
  .option('--event-type <type>', 'event_type (as on sign; --action is the older spelling)')
  .option('--agent <actor>', 'alias of --actor')
  .option('--action <type>', 'alias of --event-type')
  .option('--since <time>', 'ISO time or age (24h, 7d)')
  .option('--until <time>', 'ISO time or age (exclusive)')
  .option('--limit <n>', 'at most n events', '50')
  .action(lazy(async (opts) => (await import('../commands/audit.js')).runAuditQuery(opts)));
audit
  .command('export')
  .description('copy a chain between a file and Postgres, unchanged')
  .option('--log <src>', 'source: JSON Lines file or postgres:// URL')
  .option('--out <dest>', 'destination (must be empty): file or postgres:// URL')
  .option(
    '--key <keyref>',
    "signs the copy's anchor when the source's own does not fit (default: the configured signing key)",
  )
  .option('--signers <file>', 'registry the copy is verified with (default .agentkeys/signers.json)')
  .option('--dir <dir>', 'local key directory (default .agentkeys)')
  .action(lazy(async (opts) => (await import('../commands/audit.js')).runAuditExport(opts)));

program
  .command('db')
  .description('the PostgreSQL audit store')
  .command('migrate')
  .description('apply the numbered, append-only SQL migrations')
  .option('--database-url <url>', 'postgres:// URL (env DATABASE_URL)')
  .option('--plan', 'list pending migrations and exit 4 if any; change nothing')
  .option('--dir <dir>', "another append-only SQL directory to apply (AgentIdP's), with --table")
  .option('--table <name>', "the table that records what of --dir is applied (never another tool's own)")
  .action(lazy(async (opts) => (await import('../commands/db-migrate.js')).runDbMigrate(opts)));

const agentidp = program
  .command('agentidp')
  .description("AgentIdP's runbook: each step one transaction, recorded in the audit chain before it commits");
for (const [name, what, run] of [
  ['suspend-agent', "set the agent's status to suspended", 'runSuspendAgent'],
  ['revoke-credentials', 'revoke every live credential of the agent', 'runRevokeCredentials'],
] as const)
  agentidp
    .command(name)
    .description(what)
    .argument('<id>', "the agent's id in AgentIdP")
    .option('--database-url <url>', "AgentIdP's postgres:// URL (env DATABASE_URL; ?schema= if not public)")
    .option('--log <log>', 'the audit chain the step is recorded in (JSON Lines file or postgres:// URL)')
    .option('--key <keyref>', 'the audit signing key (default: the configured one)')
    .option('--actor <actor>', 'who does it (actor_id of the audit event)')
    .option('--reason <text>', 'why (kept in the audit event)')
    .option('--plan', 'show what would change; exit 4 if anything would')
    .option('--yes', 'do not ask')
    .action(lazy(async (opts, [id]) => (await import('../commands/agentidp.js'))[run](id as string, opts)));

program
  .command('setup')
  .description('provision the AWS account for one stack, idempotently (steps 1-22)')
  .option('--test', 'the test stack (*.test.env files, -test names)')
  .option('--only-step <n|id>', 'run one step (number or id)')
  .option('--from-step <n|id>', 'first step to run')
  .option('--to-step <n|id>', 'last step to run')
  .option('--plan', 'show what would change; exit 4 if anything would, 0 if nothing; change nothing')
  .option('--verify', 'run the probes of the steps that have them')
  .option(
    '--stack-env <file>',
    'operator env file of the stack (default env/operator-workstation[.test].env; ' +
      '"setup --env-file F" still works, deprecated)',
  )
  .option('--broker-env-file <file>', 'broker env file (default env/broker[.test].env)')
  .option('--yes', 'confirm account-wide changes without asking')
  .option('--strict', 'exit 1 if any step is waiting')
  .option('--wait <seconds>', 're-check steps waiting on SES, DNS or the issuer for up to this long')
  .option('--show-secret', 'also print minted secret access keys (they always go to a 0600 file)')
  .option(
    '--rotate-access-keys',
    "replace the daemon and SSH users' access keys: new key into the file, then the old deleted",
  )
  .option('--skip-preflight', 'go ahead without the preflight (zone delegation, instance size, ports 22/80/443, EIP)')
  .option('--force-unlock', "take the stack's lock from another run (one that died on another machine)")
  .option('--doh-url <url>', 'DNS-over-HTTPS JSON endpoint for the delegation check', 'https://dns.google/resolve')
  .option(
    '--allow-principal <arn-glob>',
    'allowed caller ARN pattern (repeatable; env SETUP_ALLOWED_PRINCIPALS)',
    collect,
    [],
  )
  .option('--sandbox', 'run the whole flow against a local moto (no AWS account needed)')
  .option(
    '--keep <dir>',
    'with --sandbox: keep the sandbox and moto state in DIR; run again to see an idempotent second run',
  )
  .action(
    withStackFiles(async (opts) =>
      opts.sandbox
        ? (await import('../commands/sandbox.js')).runSandbox(opts)
        : (await import('../commands/setup.js')).runSetup(opts),
    ),
  );

program
  .command('teardown')
  .description('delete what setup created for one stack, in reverse dependency order')
  .option('--test', 'the test stack')
  .option('--yes', 'confirm the deletion (and of bucket contents) without asking')
  .option('--keep-data', 'keep the buckets and their objects')
  .option(
    '--stack-env <file>',
    'operator env file of the stack (default env/operator-workstation[.test].env; ' +
      '"setup --env-file F" still works, deprecated)',
  )
  .option('--broker-env-file <file>', 'broker env file (default env/broker[.test].env)')
  .option('--force-unlock', "take the stack's lock from another run (one that died on another machine)")
  .option('--sandbox', 'tear down the stack of a kept sandbox (with --keep DIR)')
  .option('--keep <dir>', 'with --sandbox: the folder a `setup --sandbox --keep DIR` kept')
  .action(
    withStackFiles(async (opts) =>
      opts.sandbox
        ? (await import('../commands/sandbox.js')).runSandboxTeardown(opts)
        : (await import('../commands/teardown.js')).runTeardown(opts),
    ),
  );

program
  .command('doctor')
  .description('read-only: does this deployment work? each failing check names its fix (exit 0 healthy, 1 not)')
  .option('--test', 'the test stack')
  .option('--ci', 'only the protected-branch guard: REQUIRE_KMS=true resolves to a KMS key (one line)')
  .option('--log <log>', 'the audit chain to measure the signing rate from (cost and quota projection)')
  .option('--pem <file>', 'the .pem of the SSH fallback, if you have one')
  .option('--interval-days <n>', "the audit key's rotation interval", '90')
  .option('--max-age-days <n>', "the audit key's maximum age", '365')
  .option('--stack-env <file>', 'operator env file of the stack (default env/operator-workstation[.test].env)')
  .option('--broker-env-file <file>', 'broker env file (default env/broker[.test].env)')
  .option('--agentidp <envfile>', "AgentIdP's env file: its values checked, and used by the database/Redis/JWT checks")
  .option('--agentidp-url <url>', 'with --agentidp: probe the running service (/health, /metrics)')
  .option('--isolation', "prove tenant isolation with IAM's policy simulator (own prefix only, per data class)")
  .option('--prometheus <file>', "also write the results as Prometheus gauges (node_exporter's textfile format)")
  .option('--sandbox', 'the stack of a kept sandbox (with --keep DIR), against its local moto')
  .option('--keep <dir>', 'with --sandbox: the folder a `setup --sandbox --keep DIR` kept')
  .action(
    lazy(async (opts) =>
      opts.sandbox
        ? (await import('../commands/sandbox.js')).runSandboxDoctor(opts)
        : (await import('../commands/doctor.js')).runDoctorCommand(opts),
    ),
  );

const broker = program.command('broker').description('the broker host: render its files, set it up over SSH, probe it');
broker
  .command('render')
  .description('render every file the broker host needs (systemd, nginx Phase A/B, sshd, broker.env) into DIR')
  .requiredOption('--out <dir>', 'where to write them, laid out as on the host (DIR/etc/…)')
  .option('--test', 'the test stack')
  .option('--bin-dir <dir>', 'where the service binaries live on the host (default /opt/agentkeys/bin)')
  .option('--agentkeys-bin <path>', 'the agentkeys CLI on the host the watch timers run (default AGENTKEYS_BIN)')
  .option('--cert-dir <dir>', "certbot's live directory (default /etc/letsencrypt/live)")
  .option('--stack-env <file>', 'operator env file of the stack (default env/operator-workstation[.test].env)')
  .option('--broker-env-file <file>', 'broker env file (default env/broker[.test].env)')
  .action(lazy(async (opts) => (await import('../commands/broker.js')).runBrokerRender(opts)));

broker
  .command('setup')
  .description(
    'bring the broker host up over SSH: users, files, binaries, keys, master secret, nginx A/B, certbot, services',
  )
  .option('--test', 'the test stack')
  .option('--only-step <n|id>', 'run one step (number or id)')
  .option('--from-step <n|id>', 'first step to run')
  .option('--to-step <n|id>', 'last step to run')
  .option('--plan', 'check only and show what would change (with file diffs); exit 4 if anything would')
  .option('--fallback', 'log in with --pem as ubuntu (the first run, before agentkey exists)')
  .option('--pem <file>', 'key pair file for --fallback')
  .option('--os-user <user>', 'login user (default agentkey, or ubuntu with --fallback)')
  .option('--aws-profile <profile>', 'profile for SendSSHPublicKey (default: [agentkeys-broker[-test]] from setup)')
  .option('--email <address>', "Let's Encrypt account email (default ACME_EMAIL in the broker env file)")
  .option('--doh-url <url>', 'DNS-over-HTTPS JSON endpoint for the DNS check', 'https://dns.google/resolve')
  .option('--wait <seconds>', 're-check steps waiting on DNS or /healthz for up to this long')
  .option('--strict', 'exit 1 if any step is waiting')
  .option('--skip-preflight', 'go ahead even when EIP is not a public address (RFC 1918, 198.18.0.0/15)')
  .option('--show-secret', 'show broker.env values in --plan diffs')
  .option('--host-root <dir>', 'apply under this folder on the host instead of / (a staging tree)')
  .option('--bin-dir <dir>', 'where the service binaries live on the host (default /opt/agentkeys/bin)')
  .option('--upload-bin <dir>', 'step 4: upload the prebuilt service binaries in this local folder (by SHA-256)')
  .option('--build-ref <commit>', 'step 4: build on the host from --repo at this full commit hash')
  .option('--repo <url>', 'with --build-ref: the upstream repository the host clones')
  .option('--build-command <cmd>', `with --build-ref: the build (default "cargo build --release --locked")`)
  .option('--build-out <dir>', 'with --build-ref: where the build leaves the binaries (default target/release)')
  .option('--port-base <port>', 'first service port on loopback (default 8080)')
  .option('--stack-env <file>', 'operator env file of the stack (default env/operator-workstation[.test].env)')
  .option('--broker-env-file <file>', 'broker env file (default env/broker[.test].env)')
  .action(lazy(async (opts) => (await import('../commands/broker.js')).runBrokerSetup(opts)));

broker
  .command('probe')
  .description("read-only post-deploy checks: each hostname's /healthz and TLS certificate, the issuer and JWKS")
  .option('--test', 'the test stack')
  .option('--connect-to <addr:port>', 'reach every hostname at this address (names, SNI and TLS checks unchanged)')
  .option('--cert-dir <dir>', "on the host: fail when a served certificate is not certbot's newest in DIR/NAME/")
  .option('--stack-env <file>', 'operator env file of the stack (default env/operator-workstation[.test].env)')
  .option('--broker-env-file <file>', 'broker env file (default env/broker[.test].env)')
  .action(lazy(async (opts) => (await import('../commands/broker.js')).runBrokerProbe(opts)));

program
  .command('ssh')
  .description('open a shell (or run a command) on the broker host: EC2 Instance Connect, or --fallback with a .pem')
  .argument('[words...]', '[prod|test] then the remote command (after --)')
  .option('--test', 'the test stack (the same as the word: agentkeys ssh test)')
  .option('--fallback', 'plain ssh with --pem as ubuntu (first login)')
  .option('--pem <file>', 'key pair file for --fallback')
  .option('--os-user <user>', 'login user (default agentkey, or ubuntu with --fallback)')
  .option('--aws-profile <profile>', 'profile for SendSSHPublicKey (default: [agentkeys-broker[-test]] from setup)')
  .option('--broker-env-file <file>', 'broker env file (default env/broker[.test].env)')
  .action(lazy(async (opts, args) => (await import('../commands/ssh.js')).runSsh(opts, args)));

const evm = program
  .command('evm')
  .description('EVM signing with a KMS secp256k1 key (Agentic Vault): address, EIP-191, EIP-712, transactions');
const evmKey = '--key <keyref>';
const evmKeyHelp =
  'kms:<id|alias/…|arn>, file:<secp256k1 PEM> or local:<kid> ' + '(env VAULT_KEY_ID; region VAULT_REGION)';
evm
  .command('address')
  .description('the EIP-55 checksummed address of the key')
  .option(evmKey, evmKeyHelp)
  .option('--dir <dir>', 'local key directory for local:<kid> (default .agentkeys)')
  .action(lazy(async (opts) => (await import('../commands/evm.js')).runEvmAddress(opts)));
evm
  .command('sign-message')
  .description('EIP-191 personal_sign: prints the 65-byte signature (r‖s‖v, v 27/28)')
  .option(evmKey, evmKeyHelp)
  .option('--message <text>', 'TEXT, @FILE (its bytes) or 0xHEX (raw bytes)')
  .option('--dir <dir>', 'local key directory for local:<kid>')
  .action(lazy(async (opts) => (await import('../commands/evm.js')).runEvmSignMessage(opts)));
evm
  .command('sign-typed-data')
  .description('EIP-712: signs {domain, types, primaryType, message} from a JSON file')
  .option(evmKey, evmKeyHelp)
  .option('--data <file>', 'EIP-712 JSON document')
  .option('--dir <dir>', 'local key directory for local:<kid>')
  .action(lazy(async (opts) => (await import('../commands/evm.js')).runEvmSignTypedData(opts)));
evm
  .command('sign-tx')
  .description(
    'prints the signed raw transaction for eth_sendRawTransaction (EIP-1559; legacy EIP-155 with gasPrice; EIP-2930)',
  )
  .option(evmKey, evmKeyHelp)
  .option('--tx <file>', 'transaction JSON: chainId (required), nonce, to, value, data, gas, fees')
  .option('--dir <dir>', 'local key directory for local:<kid>')
  .action(lazy(async (opts) => (await import('../commands/evm.js')).runEvmSignTx(opts)));
evm
  .command('verify')
  .description('exit 0 if the signature was made by --address, 3 if not')
  .option('--address <address>', 'expected signer')
  .option('--signature <hex>', '65-byte signature (for --message and --data)')
  .option('--message <text>', 'TEXT, @FILE or 0xHEX that was personal_signed')
  .option('--data <file>', 'EIP-712 JSON that was signed')
  .option('--tx <raw>', 'signed raw transaction (0x…, or @FILE)')
  .action(lazy(async (opts) => (await import('../commands/evm.js')).runEvmVerify(opts)));
evm
  .command('decode')
  .description('what calldata does, as the signing policy reads it (ERC-20, permits, Permit2, Uniswap V3, Aave V3)')
  .option('--tx <file>', 'transaction JSON (its to and data)')
  .option('--to <address>', 'the contract called (with --calldata)')
  .option('--calldata <hex>', 'the call data, 0x…')
  .action(lazy(async (opts) => (await import('../commands/evm.js')).runEvmDecode(opts)));
evm
  .command('simulate')
  .description('the decision agentkeys mcp would make under --policy, and the rule: exit 0 would sign, 3 would refuse')
  .option('--policy <file>', 'signing policy JSON (agentkeys or Agentic Vault format)')
  .option('--tx <file>', 'transaction JSON')
  .option('--data <file>', 'EIP-712 JSON document')
  .option('--message <text>', 'a personal_sign message')
  .option('--quote-out <n>', 'for a swap: the quoted amount out of an exact-input swap (base units)')
  .option('--quote-in <n>', 'for a swap: the quoted amount in of an exact-output swap (base units)')
  .option('--from <address>', 'the signer, allowed as its own recipient')
  .action(lazy(async (opts) => (await import('../commands/evm.js')).runEvmSimulate(opts)));

program
  .command('mcp')
  .description(
    'stdio MCP server for AI agents: EVM signing under a deny-by-default policy, every call in the audit chain',
  )
  .option('--key-id <keyref>', 'the EVM key: kms:<id|alias|arn> or file:<PEM> (env VAULT_KEY_ID)')
  .option('--policy <file>', 'signing policy JSON; without it only get_address, health_check and the verify tools work')
  .option('--signers <file>', 'signer registry for verify_audit (default .agentkeys/signers.json)')
  .option('--dir <dir>', 'local key directory (default .agentkeys)')
  .option('--checkpoint-every <n>', 'checkpoint mode for the --audit-log chain: a checkpoint every N calls')
  .option('--checkpoint-interval <duration>', 'checkpoint mode: a checkpoint this often while calls wait (10s, 1m)')
  .option('--expected-address <0x…>', 'refuse to start unless the key has this address')
  .option('--rpc-url <url>', 'an Ethereum JSON-RPC node: enables get_balance (and send_transaction with --allow-send)')
  .option('--allow-send', 'with --rpc-url: the send_transaction tool broadcasts what the policy allows')
  .option(
    '--metrics-port <port>',
    'serve Prometheus metrics on 127.0.0.1:PORT/metrics (calls, denials by rule, KMS latency)',
  )
  .action(lazy(async (opts) => (await import('../commands/mcp.js')).runMcp(opts)));

program
  .command('completion')
  .description('print a shell completion script: agentkeys completion bash > /etc/bash_completion.d/agentkeys')
  .argument('<shell>', 'bash, zsh or fish')
  .action(
    lazy(async (_opts, args) =>
      (await import('../commands/completion.js')).runCompletion(args[0] as string, completionTree(program)),
    ),
  );

// Examples under each command's --help; the exit codes and global flags are shown for every command.
const EXAMPLES: Record<string, string[]> = {
  'keys create': [
    'agentkeys keys create --local --alg ed25519 --kid audit-1',
    'agentkeys keys create --spec ECC_SECG_P256K1 --alias alias/agentic-vault',
  ],
  sign: [
    'agentkeys sign --log audit.jsonl --key local:audit-1 --event-type agent_spawned --payload \'{"agent":"a-7"}\'',
    'agentkeys sign --log audit.jsonl --key local:audit-1 --batch < events.jsonl',
  ],
  'verify-audit': [
    'agentkeys verify-audit --log audit.jsonl',
    'agentkeys verify-audit --log postgres://agentkeys@db/agentkeys --json',
  ],
  'signers rebuild': ['agentkeys signers rebuild --log audit.jsonl --out .agentkeys/signers.json --plan'],
  'rotate-key': [
    'agentkeys rotate-key --alias alias/agentkeys-audit --signers .agentkeys/signers.json --log audit.jsonl',
    'agentkeys rotate-key --jwt ./jwt --yes',
    'agentkeys rotate-key --jwt ./jwt --publish-secret agentidp/prod --ecs-service agentidp/api ' +
      '--jwks-url https://idp.example.com/.well-known/jwks.json --yes',
  ],
  encrypt: [
    'agentkeys encrypt --key kms:alias/agent-data --context tenant=acme secrets.json   # writes secrets.json.enc',
  ],
  decrypt: ['agentkeys decrypt --context tenant=acme secrets.json.enc'],
  'audit query': [
    'agentkeys audit query --log audit.jsonl --actor a-7 --since 24h',
    'agentkeys audit query --source agentidp --database-url "$AGENTIDP_DATABASE_URL" --event-type token.issued',
  ],
  'audit export': [
    'agentkeys audit export --log postgres://agentkeys@db/agentkeys --out copy.jsonl --key local:audit-1',
  ],
  'db migrate': ['agentkeys db migrate --database-url postgres://agentkeys@db/agentkeys --plan'],
  setup: ['agentkeys setup --sandbox', 'agentkeys setup --test --plan', 'agentkeys setup --test --yes --only-step eip'],
  teardown: ['agentkeys teardown --test --yes'],
  'broker render': ['agentkeys broker render --test --out ./host'],
  'broker setup': [
    'agentkeys broker setup --test --fallback --pem ~/.ssh/broker.pem --plan',
    'agentkeys broker setup --test --only-step certificates --wait 600',
    'agentkeys broker setup --test --upload-bin ../agentKeys/target/release',
    'agentkeys broker setup --build-ref 4f1c…(40 hex) --repo https://github.com/litentry/agentKeys.git --wait 1800',
  ],
  'broker probe': ['agentkeys broker probe --test', 'agentkeys broker probe --test --connect-to 203.0.113.7:443'],
  doctor: [
    'agentkeys doctor --test',
    'agentkeys doctor --json --log audit.jsonl',
    'REQUIRE_KMS=true agentkeys doctor --ci',
    'agentkeys doctor --sandbox --keep sbx   # after: agentkeys setup --sandbox --keep sbx',
    'agentkeys doctor --test --prometheus /var/lib/node_exporter/textfile/agentkeys.prom',
  ],
  ssh: ['agentkeys ssh test', 'agentkeys ssh prod -- sudo systemctl status agentkeys-broker'],
  'evm address': ['agentkeys evm address --key kms:alias/agentic-vault'],
  'evm sign-tx': ['agentkeys evm sign-tx --key kms:alias/agentic-vault --tx tx.json'],
  'evm verify': ['agentkeys evm verify --address 0x… --signature 0x… --message hello'],
  'evm decode': ['agentkeys evm decode --tx tx.json', 'agentkeys evm decode --to 0xA0b8…eB48 --calldata 0x095ea7b3…'],
  'evm simulate': ['agentkeys evm simulate --policy vault-policy.json --tx tx.json --quote-out 990000'],
  mcp: ['agentkeys mcp --key-id alias/agentic-vault --policy vault-policy.json --audit-log mcp-audit.jsonl'],
  completion: ['agentkeys completion bash > /etc/bash_completion.d/agentkeys'],
  alert: [
    'agentkeys alert --unit agentkeys-watch-verify.service --target webhook:https://hooks.example.com/agentkeys',
    'agentkeys alert --unit test.service --target sns:arn:aws:sns:us-east-1:123456789012:agentkeys-alerts --message hi',
  ],
  sandbox: [
    'agentkeys sandbox            # then, in another shell, the printed exports, and: agentkeys keys create --spec …',
    'agentkeys sandbox --keep sbx # the account `agentkeys setup --sandbox --keep sbx` made',
  ],
  init: [
    'agentkeys init ops --account-id 123456789012 --zone example.org --parent-zone-id Z0123456789ABC',
    'agentkeys init   # asks for each value on a terminal',
  ],
  keys: ['agentkeys keys list', 'agentkeys keys create --local --alg ed25519 --kid audit-1'],
  'keys sign': ['agentkeys keys sign --key kms:alias/agent-audit --in release.tar --out release.sig'],
  'keys verify': ['agentkeys keys verify --key kms:alias/agent-audit --in release.tar --signature release.sig'],
  'keys list': ['agentkeys keys list --json'],
  'keys disable': ['agentkeys keys disable --key kms:alias/old-audit'],
  'keys enable': ['agentkeys keys enable --key kms:arn:aws:kms:us-east-1:123456789012:key/…'],
  'keys cancel-deletion': ['agentkeys keys cancel-deletion --key kms:arn:aws:kms:us-east-1:123456789012:key/…'],
  'keys rotate-now': ['agentkeys keys rotate-now --key kms:alias/agent-data'],
  'keys schedule-deletion': ['agentkeys keys schedule-deletion --key kms:arn:aws:kms:…:key/… --days 30 --yes'],
  'keys retire': ['agentkeys keys retire --key kms:arn:aws:kms:us-east-1:123456789012:key/… --yes'],
  'keys describe': ['agentkeys keys describe --key kms:alias/agentkeys-audit'],
  'keys should-rotate': [
    'agentkeys keys should-rotate --key kms:alias/agentkeys-audit && agentkeys rotate-key --alias …',
  ],
  'keys replicate': ['agentkeys keys replicate --key kms:alias/agent-data --regions us-west-2,eu-west-1'],
  signers: ['agentkeys signers rebuild --log audit.jsonl --out .agentkeys/signers.json --plan'],
  audit: ['agentkeys audit query --log audit.jsonl --since 24h', 'agentkeys audit checkpoint --log audit.jsonl'],
  'audit checkpoint': [
    'agentkeys audit checkpoint --log audit.jsonl --key local:audit-1 --adopt',
    'agentkeys audit checkpoint --log audit.jsonl --key local:audit-1 --out old.checkpoint',
  ],
  agentidp: ['agentkeys agentidp suspend-agent 7f9c… --database-url "$AGENTIDP_DATABASE_URL" --log audit.jsonl'],
  'agentidp suspend-agent': [
    'agentkeys agentidp suspend-agent 7f9c… --database-url "$AGENTIDP_DATABASE_URL" --log audit.jsonl --plan',
  ],
  'agentidp revoke-credentials': [
    'agentkeys agentidp revoke-credentials 7f9c… --database-url "$AGENTIDP_DATABASE_URL" --reason "key leaked"',
  ],
  'audit prune': [
    'agentkeys audit prune --database-url "$AGENTIDP_DATABASE_URL" --table audit_events --before 90d --plan',
  ],
  'audit prove': ['agentkeys audit prove --log audit.jsonl --id 3c246df4-… --out proof.json'],
  'audit consistency': [
    'agentkeys audit consistency --log audit.jsonl --old old.checkpoint',
    'agentkeys audit consistency --log audit.jsonl --old-size 1000',
  ],
  db: ['agentkeys db migrate --database-url postgres://agentkeys@db/agentkeys'],
  broker: ['agentkeys broker render --test --out ./host', 'agentkeys broker setup --test --plan'],
  evm: ['agentkeys evm address --key kms:alias/agentic-vault'],
  'evm sign-message': ['agentkeys evm sign-message --key kms:alias/agentic-vault --message "hello"'],
  'evm sign-typed-data': ['agentkeys evm sign-typed-data --key kms:alias/agentic-vault --typed-data permit.json'],
};

// What each exit code means where a command gives it; every command can also exit 1, 2 and 130.
const EXIT_CODE_LINES: Record<string, string> = {
  'verify-audit': '0 intact · 3 the chain does not verify · 5 intact, with events no checkpoint vouches for',
  'keys should-rotate': '0 due for rotation · 1 not due (--fail-if-due: 0 not due · 1 due)',
  'keys verify': '0 the signature verifies · 3 it does not',
  'evm verify': '0 the signature verifies · 3 it does not',
  setup: '0 done or waiting · 3 a --verify probe failed · 4 --plan found changes',
  'broker setup': '0 done or waiting · 4 --plan found changes',
  'db migrate': '0 applied (or nothing to apply) · 4 --plan found migrations to apply',
  'signers rebuild': '0 written · 4 --plan found changes',
  'audit export': '0 copied · 3 the source chain does not verify',
  'audit consistency': '0 consistent · 3 the log does not extend the old checkpoint',
  decrypt: '0 decrypted · 3 tampered, a context mismatch, or another key',
  sign: '0 signed · 3 the log no longer holds what it signed last (nothing written)',
  doctor: '0 healthy · 1 a check failed',
  'broker probe': '0 every check passed · 1 a check failed',
};
function exitCodesOf(path: string): string {
  const own = EXIT_CODE_LINES[path] ?? '0 ok';
  const rest = [/(^|· )1 /.test(own) ? '' : '1 failed', '2 usage error', '130 interrupted'].filter(Boolean);
  return `Exit codes: ${[own, ...rest].join(' · ')}`;
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap((c) => allCommands(c as Command))];
}

function completionTree(root: Command) {
  const globals = root.options.map((o) => o.long!).filter(Boolean);
  const valueFlags = new Set(
    allCommands(root).flatMap((c) => c.options.filter((o) => o.required || o.optional).map((o) => o.long!)),
  );
  return {
    nodes: allCommands(root).map((c) => ({
      path: commandPath(c),
      // ssh takes its stack as a word: offered like a subcommand.
      subcommands: [...c.commands.map((s) => s.name()), ...(commandPath(c) === 'ssh' ? ['prod', 'test'] : [])],
      flags: [...c.options.map((o) => o.long!).filter(Boolean), ...(c === root ? [] : globals), '--help'],
    })),
    valueFlags: [...valueFlags].filter(Boolean),
    // The flags whose values are a fixed list; any other value flag completes file names.
    choices: {
      '--alg': [...SIGNING_ALGS],
      '--spec': [
        'ECC_NIST_P256',
        'ECC_SECG_P256K1',
        'ECC_NIST_EDWARDS25519',
        'RSA_2048',
        'RSA_3072',
        'RSA_4096',
        'HMAC_256',
        'SYMMETRIC_DEFAULT',
      ],
      '--format': ['esdk', 'sentinel'],
    },
  };
}

// Flags whose meaning is the same on every command: their env names in --help come from the
// settings table (src/config/load.ts), never typed twice. (--key means another key per command.)
const SETTING_FLAGS = new Set(['dir', 'signers', 'followSymlinks', 'alg', 'signerKid', 'log', 'auditLog', 'auditKey']);
for (const cmd of allCommands(program))
  for (const option of cmd.options) {
    const names = SETTING_FLAGS.has(option.attributeName()) ? envNamesOfFlag(option.attributeName()) : undefined;
    if (names) option.description = `${option.description.replace(/\s*\(env [^)]*\)/, '')} (env ${names.join(', ')})`;
  }

for (const cmd of allCommands(program)) {
  cmd.configureHelp({ showGlobalOptions: true });
  const examples = EXAMPLES[commandPath(cmd)];
  const shown = examples ? `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n` : '';
  const text = `${shown}\n${exitCodesOf(commandPath(cmd))}\n`;
  cmd.addHelpText('after', text);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

type Runner = (opts: Record<string, unknown>, positional: unknown[]) => Promise<ExitCode>;

function lazy(run: (opts: any, positional: unknown[]) => Promise<ExitCode>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    // One span per command run (a no-op unless OpenTelemetry is on): the AWS calls, signing and
    // verification phases inside it are its children.
    process.exitCode = await withSpan(`agentkeys ${commandPath(cmd)}`, { 'agentkeys.command': commandPath(cmd) }, () =>
      (run as Runner)(cmd.optsWithGlobals(), args.slice(0, -2)),
    );
  };
}

/**
 * `agentkeys verify-audit … | head -1`: once the reader is gone, further output is dropped and
 * the command finishes with its own exit code, instead of dying on EPIPE.
 */
function tolerateClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // Other errors reach the command that was writing (its pipeline rejects), so none is lost here.
    if (err.code === 'EPIPE') process.stdout.write = (() => true) as typeof process.stdout.write;
  });
}

/**
 * setup and teardown: the global --env-file (settings) and the stack's env file share a spelling,
 * and commander reads program options anywhere on the line, so argv tells them apart: before the
 * command word it is the settings file, after it the (deprecated) stack file. --stack-env is the
 * stack file's own name.
 */
function withStackFiles(run: (opts: any) => Promise<ExitCode>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const { before, after } = envFileFlags(process.argv.slice(2), cmd.name());
    const local = cmd.opts<{ stackEnv?: string }>();
    const stackEnv = local.stackEnv ?? after;
    const note =
      after && !local.stackEnv
        ? `${cmd.name()} --env-file F is deprecated for the stack's env file: use ` +
          `--stack-env F (--env-file before the command word is the settings file)`
        : undefined;
    process.exitCode = await run({
      ...cmd.optsWithGlobals(),
      envFile: before,
      stackEnv,
      ...(note ? { stackEnvDeprecated: note } : {}),
    });
  };
}

function envFileFlags(argv: string[], commandWord: string): { before?: string; after?: string } {
  const at = argv.indexOf(commandWord);
  const found: { before?: string; after?: string } = {};
  argv.forEach((token, i) => {
    const value =
      token === '--env-file'
        ? argv[i + 1]
        : token.startsWith('--env-file=')
          ? token.slice('--env-file='.length)
          : undefined;
    if (value !== undefined) found[at !== -1 && i > at ? 'after' : 'before'] = value;
  });
  return found;
}

/**
 * Ctrl-C: what the command had half-made (temp files of atomic writes, throwaway key folders, the
 * sandbox's folder) is removed and named, then exit 130. Files only ever appear whole, so nothing
 * else can be half-written; what was done before the interrupt is done.
 */
function interrupted(): void {
  const removed = removeInterruptedLeftovers();
  process.stderr.write(
    `\n✖ interrupted${removed.length > 0 ? `; removed ${removed.join(', ')}` : ''}: ` +
      'no file was left half-written [INTERRUPTED]\n',
  );
  process.exit(130);
}

/** The commit this build came from, when it runs from a git clone; null from a package. */
function buildCommit(): string | null {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: path.dirname(fileURLToPath(import.meta.url)),
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim() : null;
}

async function main(): Promise<void> {
  process.on('SIGINT', interrupted);
  tolerateClosedStdout();
  const argv = process.argv.slice(2);
  if (argv.includes('--json') && (argv.includes('--version') || argv.includes('-V'))) {
    process.stdout.write(
      `${JSON.stringify({ ok: true, version: VERSION, commit: buildCommit(), node: process.version })}\n`,
    );
    return;
  }
  // OpenTelemetry only when the standard variables ask for it: otherwise not one module of it loads.
  const telemetry = tracingRequested(process.env)
    ? await (await import('../src/sys/telemetry.js')).startTelemetry(VERSION, process.env)
    : undefined;
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    process.exitCode = await exitCodeFor(err);
  } finally {
    await telemetry?.shutdown().catch(() => undefined); // a collector that is down never fails a command
  }
}

// commander's parse errors, as agentkeys codes for --json and scripts.
const COMMANDER_CODES: Record<string, string> = {
  'commander.unknownOption': 'FLAG_UNKNOWN',
  'commander.optionMissingArgument': 'FLAG_VALUE_MISSING',
  'commander.missingMandatoryOptionValue': 'FLAG_MISSING',
  'commander.invalidArgument': 'FLAG_INVALID',
  'commander.unknownCommand': 'COMMAND_UNKNOWN',
  'commander.excessArguments': 'ARGUMENT_UNEXPECTED',
  'commander.missingArgument': 'ARGUMENT_MISSING',
  'commander.conflictingOption': 'FLAG_CONFLICT',
};

/** commander's "error: unknown option '--lgo'\n(Did you mean --log?)" as a usage error with a hint. */
function parseError(err: CommanderError): UsageError {
  const [first, ...rest] = err.message.replace(/^error: /, '').split('\n');
  const suggestion = /\(Did you mean (.+)\?\)/.exec(rest.join(' '))?.[1];
  const words = process.argv.slice(2).filter((w) => !w.startsWith('-'));
  const command = words.length > 0 && program.commands.some((c) => c.name() === words[0]) ? ` ${words[0]}` : '';
  return new UsageError({
    code: (COMMANDER_CODES[err.code] ?? 'USAGE_ERROR') as ErrorCode,
    message: first!,
    hint: suggestion ? `did you mean ${suggestion}?` : `agentkeys${command} --help lists what it takes`,
  });
}

async function exitCodeFor(err: unknown): Promise<ExitCode> {
  if (err instanceof CommanderError) {
    // Help and version exit 0; commander printed them.
    if (err.exitCode === 0) return 0;
    // Options are not parsed when parsing failed, so --json is looked up in argv itself.
    const { printError } = await import('../commands/ui/format.js');
    printError(parseError(err), { json: process.argv.includes('--json'), debug: false });
    return 2;
  }
  const globals = program.opts<{ json?: boolean; debug?: boolean }>();
  const { printError } = await import('../commands/ui/format.js');
  const { isAgentkeysError, exitCodeOf } = await import('../src/errors.js');
  // LOG_LEVEL=debug is --debug; the settings file's copy applies once a command has loaded it.
  const debug = globals.debug === true || /^debug$/i.test(process.env.LOG_LEVEL ?? '');
  printError(err, { json: globals.json === true, debug });
  if (isAgentkeysError(err)) return exitCodeOf(err);
  if ((err as Error)?.name === 'ExitPromptError') return 130;
  return 1;
}

await main();
