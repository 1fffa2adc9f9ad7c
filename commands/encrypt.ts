import { parseWholeNumber } from './options.js';
import { createReadStream, promises as fsp } from 'node:fs';
import { Transform, Writable, type Readable } from 'node:stream';
import {
  DEFAULT_CACHE,
  EnvelopeCrypto,
  parseContext,
  parseSentinelEnvelope,
  regionOfKeyArn,
  SENTINEL_MAX_BYTES,
  sentinelDecrypt,
  sentinelEncrypt,
  withAtomicOutput,
  type DataKeyCacheOptions,
  type DiscoveryFilter,
} from '../src/crypto/envelope.js';
import { assertNewOutput } from '../src/sys/fs.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { createContext, type CommandContext, type GlobalOptions } from './context.js';
import { printKmsCalls, withKmsTrail } from './kms-support.js';
import { printJson, style } from './ui/format.js';
import { bytes, progressLine, type ProgressLine } from './ui/progress.js';
import type { KmsApi } from '../src/aws/kms.js';
import { errnoCode } from '../src/sys/operator-file.js';

export interface EnvelopeOptions extends GlobalOptions {
  key?: string[];
  context?: string[];
  in?: string;
  out?: string;
  format?: string;
  cache?: boolean;
  cacheTtl?: string;
  cacheMaxMessages?: string;
  cacheMaxBytes?: string;
  force?: boolean;
  discoveryAccount?: string[];
  discoveryPartition?: string;
}

type KmsClient = KmsApi['client'];
type Job = { input: string | undefined; output: string | undefined };

export async function runEncrypt(options: EnvelopeOptions, files: string[] = []): Promise<ExitCode> {
  return runEnvelope('encrypt', options, files);
}

export async function runDecrypt(options: EnvelopeOptions, files: string[] = []): Promise<ExitCode> {
  return runEnvelope('decrypt', options, files);
}

async function runEnvelope(mode: 'encrypt' | 'decrypt', options: EnvelopeOptions, files: string[]): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const format = options.format ?? 'esdk';
  if (format !== 'esdk' && format !== 'sentinel')
    throw new UsageError({ code: 'FLAG_INVALID', message: `--format "${format}" is not esdk or sentinel` });
  const context = parseContext(options.context ?? []);
  const keyIds = (options.key ?? []).map((k) => k.replace(/^kms:/, ''));
  if (mode === 'encrypt' && keyIds.length === 0)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--key is required to encrypt',
      hint: '--key kms:alias/agent-data',
    });
  if (format === 'sentinel' && keyIds.length > 1)
    throw new UsageError({
      code: 'FLAG_CONFLICT',
      message: 'the sentinel format wraps its data key under one KMS key',
      hint: 'give one --key, or use --format esdk for several',
    });
  const discovery = mode === 'decrypt' && keyIds.length === 0 ? discoveryFilter(options) : undefined;
  const jobs = planJobs(mode, options, files);
  await refuseOverwrites(mode, jobs, options.force === true);
  let cache: EnvelopeCrypto['stats'] | null = null;
  await withKmsTrail(ctx, async () => {
    // Aliases are resolved to the key ARN: the Encryption SDK matches wrapped keys by ARN only.
    const keyArns = await Promise.all(keyIds.map((k) => envelopeKeyArn(ctx, k, mode)));
    const clients = await regionalClients(ctx, keyArns);
    const crypto =
      format === 'esdk'
        ? new EnvelopeCrypto(await ctx.services.kms(), keyArns, cacheOptions(options), undefined, discovery, (r) =>
            clients.get(r),
          )
        : undefined;
    const keyArn = keyArns[0];
    const progress = progressLine(ctx.out);
    for (const job of jobs) {
      if (crypto) await runEsdk(mode, crypto, job, context, progress).finally(() => progress.done());
      else await runSentinel(mode, ctx, keyArn, job, context, discovery);
      if (!ctx.out.json && job.output)
        process.stderr.write(
          `${style.ok('✔')} ${mode === 'encrypt' ? 'encrypted' : 'decrypted'} ` +
            `${job.input ?? 'stdin'} → ${job.output}\n`,
        );
    }
    cache = crypto?.stats ?? null;
    if (ctx.out.debug && crypto)
      process.stderr.write(
        style.dim(`  data-key cache: ${crypto.stats.hits} hit(s), ${crypto.stats.misses} miss(es)\n`),
      );
  });
  printKmsCalls(ctx);
  if (ctx.out.json && jobs.every((j) => j.output))
    printJson({ ok: true, mode, format, files: jobs.map((j) => j.output), cache });
  return 0;
}

/**
 * Decryption without --key must say whose keys it trusts: a message names the key that wraps its
 * data key, and with no filter a message wrapped under any key in any account would decrypt.
 */
function discoveryFilter(options: EnvelopeOptions): DiscoveryFilter {
  const accounts = options.discoveryAccount ?? [];
  if (accounts.length === 0)
    throw new UsageError({
      code: 'DECRYPT_KEY_REQUIRED',
      message: 'decrypt needs --key, or --discovery-account ID for the accounts whose keys it may use',
      hint: '--key kms:alias/agent-data, or --discovery-account 123456789012 (repeatable)',
    });
  for (const id of accounts)
    if (!/^\d{12}$/.test(id))
      throw new UsageError({
        code: 'FLAG_INVALID',
        message: `--discovery-account "${id}" is not a 12-digit account ID`,
      });
  return { accountIDs: accounts, partition: options.discoveryPartition ?? 'aws' };
}

/**
 * To encrypt, the key must be a symmetric ENCRYPT_DECRYPT key (a signing or HMAC key is refused
 * before any data moves), asked of KMS in the key's own region. To decrypt, a key ARN is taken as
 * it is: its region may be the one that is down, and the replica after it is the way round.
 */
async function envelopeKeyArn(ctx: CommandContext, keyId: string, mode: 'encrypt' | 'decrypt'): Promise<string> {
  const region = regionOfKeyArn(keyId);
  if (mode === 'decrypt' && region) return keyId;
  const kms = region ? await ctx.services.kmsIn(region) : await ctx.services.kms();
  const meta = await kms.describeKey(keyId);
  // AWS defaults KeyUsage to ENCRYPT_DECRYPT for a symmetric key; a DescribeKey without the field
  // (moto 5.2.1, when CreateKey omitted it) means that default.
  const usage = meta.KeyUsage ?? (meta.KeySpec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : undefined);
  if (usage !== 'ENCRYPT_DECRYPT') {
    throw new UsageError({
      code: 'KMS_KEY_WRONG_USAGE',
      message:
        `KMS key ${meta.Arn} is a ${usage ?? 'unknown-usage'} key (${meta.KeySpec}); envelope ` +
        `encryption needs ENCRYPT_DECRYPT`,
      hint: 'create one: agentkeys keys create --spec SYMMETRIC_DEFAULT --alias alias/agent-data',
    });
  }
  return meta.Arn!;
}

/** A KMS client for each region the keys are in: each key is called in its own region. */
async function regionalClients(ctx: CommandContext, keyArns: readonly string[]): Promise<Map<string, KmsClient>> {
  const home = await ctx.services.kms();
  const clients = new Map<string, KmsClient>([[home.region, home.client]]);
  for (const arn of keyArns) {
    const region = regionOfKeyArn(arn);
    if (region && !clients.has(region)) clients.set(region, (await ctx.services.kmsIn(region)).client);
  }
  return clients;
}

/** Nothing is overwritten without --force, and binary ciphertext never goes to a terminal. */
async function refuseOverwrites(mode: 'encrypt' | 'decrypt', jobs: Job[], force: boolean): Promise<void> {
  for (const job of jobs) {
    // Every input is a readable file before anything is written: a folder is a usage error.
    if (job.input) await statInput(job.input);
    if (!job.output) {
      if (mode === 'encrypt' && process.stdout.isTTY)
        throw new UsageError({
          code: 'OUTPUT_IS_TTY',
          message: 'refusing to write binary ciphertext to the terminal',
          hint: 'pass --out FILE, a FILE argument (writes FILE.enc), or redirect: > file.enc',
        });
      continue;
    }
    await assertNewOutput(job.output, force);
  }
}

function planJobs(mode: 'encrypt' | 'decrypt', options: EnvelopeOptions, files: string[]): Job[] {
  if (files.length === 0) return [{ input: options.in, output: options.out }];
  if (options.in || options.out)
    throw new UsageError({ code: 'FLAG_INVALID', message: 'give either FILE… or --in/--out, not both' });
  return files.map((f) => {
    if (mode === 'decrypt' && !f.endsWith('.enc'))
      throw new UsageError({
        code: 'FLAG_INVALID',
        message: `${f} does not end in .enc`,
        hint: 'use --in/--out for other names',
      });
    return { input: f, output: mode === 'encrypt' ? `${f}.enc` : f.slice(0, -4) };
  });
}

async function runEsdk(
  mode: 'encrypt' | 'decrypt',
  crypto: EnvelopeCrypto,
  job: Job,
  context: Record<string, string>,
  progress: ProgressLine,
): Promise<void> {
  const size = job.input ? (await statInput(job.input)).size : undefined;
  const run = async (out: Writable) => {
    const file = job.input ? createReadStream(job.input) : process.stdin;
    const input =
      job.input && size !== undefined && size >= PROGRESS_FROM_BYTES
        ? counted(file, (n) => progress.update(`  ${mode}ing ${job.input}: ${percentOf(n, size)}…`))
        : file;
    if (mode === 'encrypt') await crypto.encryptStream(input, out, context, size);
    else await crypto.decryptStream(input, out, context);
  };
  // With --out nothing is written unless every frame and the signature authenticate.
  if (job.output) await withAtomicOutput(job.output, mode === 'decrypt' ? 0o600 : 0o644, run);
  else if (mode === 'encrypt') await run(stdoutSink());
  else {
    // Plaintext reaches stdout only once the whole message authenticated: a truncated or
    // modified message must not have streamed its first frames to a reader already.
    const held = new HeldPlaintext(STDOUT_PLAINTEXT_MAX_BYTES);
    await run(held);
    await new Promise<void>((resolve, reject) =>
      process.stdout.write(held.bytes(), (err) => (err ? reject(err) : resolve())),
    );
  }
}

const STDOUT_PLAINTEXT_MAX_BYTES = 64 << 20;
/** Inputs smaller than this finish before a progress line would be read. */
const PROGRESS_FROM_BYTES = 16 << 20;

const percentOf = (n: number, size: number) => `${Math.floor((100 * n) / size)}% (${bytes(n)} of ${bytes(size)})`;

/** The input as it is, telling how many bytes have gone through (for the progress line). */
function counted(input: Readable, onBytes: (n: number) => void): Readable {
  let n = 0;
  const through = new Transform({
    transform(chunk: Buffer, _enc, done) {
      n += chunk.length;
      onBytes(n);
      done(null, chunk);
    },
  });
  input.once('error', (err) => through.destroy(err));
  return input.pipe(through);
}

/** Collects decrypted bytes in memory, up to a limit past which --out is the way. */
class HeldPlaintext extends Writable {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.size += chunk.length;
    if (this.size > this.limit)
      return done(
        new UsageError({
          code: 'OUTPUT_TOO_LARGE',
          message:
            'decrypting to stdout holds the plaintext until the message authenticates: ' +
            `at most ${this.limit >> 20} MiB`,
          hint: 'decrypt into a file with --out FILE (written only when the whole message authenticates)',
        }),
      );
    this.chunks.push(chunk);
    done();
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

async function runSentinel(
  mode: 'encrypt' | 'decrypt',
  ctx: CommandContext,
  keyId: string | undefined,
  job: Job,
  context: Record<string, string>,
  discovery: DiscoveryFilter | undefined,
): Promise<void> {
  const data = await readAll(job.input);
  const kms = await ctx.services.kms();
  const output =
    mode === 'encrypt'
      ? Buffer.from(`${JSON.stringify(await sentinelEncrypt(kms, keyId!, data, context))}\n`)
      : await sentinelDecrypt(kms, parseSentinelEnvelope(data.toString('utf8')), context, {
          ...(keyId ? { keyArn: keyId } : {}),
          ...(discovery ? { discovery } : {}),
        });
  if (job.output)
    await withAtomicOutput(
      job.output,
      mode === 'decrypt' ? 0o600 : 0o644,
      async (out) =>
        void (await new Promise<void>((resolve, reject) => out.end(output, () => resolve()).once('error', reject))),
    );
  else process.stdout.write(output);
}

/**
 * stdout behind a stream of its own: a failed pipeline destroys this wrapper, not process.stdout,
 * so the error (and its --json record) can still be printed.
 */
function stdoutSink(): Writable {
  return new Writable({ write: (chunk: Buffer, _enc, done) => void process.stdout.write(chunk, () => done()) });
}

async function readAll(file: string | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of file ? createReadStream(file) : process.stdin) {
    size += (chunk as Buffer).length;
    if (size > SENTINEL_MAX_BYTES)
      throw new UsageError({
        code: 'INPUT_TOO_LARGE',
        message: `the sentinel format holds one message in memory (at most ${SENTINEL_MAX_BYTES >> 20} MiB)`,
        hint: 'use the default format (--format esdk), which streams',
      });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function statInput(file: string) {
  let stat;
  try {
    stat = await fsp.stat(file);
  } catch (err) {
    throw new UsageError({
      code: 'INPUT_NOT_FOUND',
      message: `cannot read ${file}: ${errnoCode(err)}`,
      cause: err,
    });
  }
  if (stat.isDirectory())
    throw new UsageError({
      code: 'PATH_IS_DIRECTORY',
      message: `${file} is a folder: encrypt and decrypt read one file`,
      hint: `name a file, or encrypt each one: agentkeys encrypt ${file}/*`,
    });
  return stat;
}

function cacheOptions(options: EnvelopeOptions): DataKeyCacheOptions | false {
  if (options.cache === false) return false;
  const num = (v: string | undefined, d: number, flag: string) =>
    v === undefined ? d : parseWholeNumber(v, flag, { min: 1 });
  return {
    maxAgeMs: num(options.cacheTtl, DEFAULT_CACHE.maxAgeMs / 1000, '--cache-ttl') * 1000,
    maxMessagesEncrypted: num(options.cacheMaxMessages, DEFAULT_CACHE.maxMessagesEncrypted, '--cache-max-messages'),
    maxBytesEncrypted: num(options.cacheMaxBytes, DEFAULT_CACHE.maxBytesEncrypted, '--cache-max-bytes'),
  };
}
