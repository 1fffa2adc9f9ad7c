import { promises as fsp } from 'node:fs';
import { AgentkeysError, UsageError } from '../errors.js';
import { isDigestHex } from './canonical.js';
import { readLineChunks } from '../store/file-chunks.js';
import { parseSignerRegistryLenient, readRegistryText } from '../signing/registry.js';
import { anchorPathFor, readAnchorIfExists } from './anchor.js';
import type { KeyRingData } from './keyring.js';
import { defaultWorkerCount, verifyChain, type VerifyReport } from './verify-log.js';

export interface VerifyFileOptions {
  log: string;
  signersPath: string;
  /** kid → file holding the UTF-8 HMAC secret. */
  hmacKeyFiles: Record<string, string>;
  /** Anchor path; undefined means `<log>.anchor.json` if it exists; false means none. */
  anchor?: string | false;
  trustedStart?: string;
  workers?: number;
  slackMs: number;
}

export interface VerifyFileReport extends VerifyReport {
  registryWarnings: string[];
  anchorPath: string | null;
}

/** Offline verification of a JSON Lines log from signers.json alone (plus HMAC secrets). */
export async function verifyLogFile(opts: VerifyFileOptions): Promise<VerifyFileReport> {
  if (opts.trustedStart !== undefined && !isDigestHex(opts.trustedStart)) {
    throw new UsageError({ code: 'DIGEST_INVALID', message: `--from "${opts.trustedStart}" is not 64 lowercase hex characters`, hint: 'pass the hex digest of the last event before this log starts' });
  }
  const size = await logSize(opts.log);
  const hmacSecrets = await readHmacSecrets(opts.hmacKeyFiles);
  const { keys, warnings } = await loadKeyRing(opts.signersPath, hmacSecrets, opts.slackMs);
  const anchorPath = opts.anchor === false ? null : (opts.anchor ?? anchorPathFor(opts.log));
  const anchorFile = anchorPath === null ? undefined : await readAnchorIfExists(anchorPath);
  if (opts.anchor && !anchorFile) {
    throw new UsageError({ code: 'ANCHOR_NOT_FOUND', message: `anchor ${opts.anchor} does not exist`, hint: 'drop --anchor to use <log>.anchor.json when present' });
  }
  const report = await verifyChain(readLineChunks(opts.log), {
    keys,
    workers: opts.workers ?? defaultWorkerCount(size),
    ...(opts.trustedStart ? { trustedStart: opts.trustedStart } : {}),
    ...(anchorFile ? { anchorText: anchorFile.text } : {}),
  });
  return { ...report, registryWarnings: warnings, anchorPath: anchorFile ? anchorPath : null };
}

async function logSize(log: string): Promise<number> {
  try {
    return (await fsp.stat(log)).size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AgentkeysError({ code: code === 'ENOENT' ? 'LOG_NOT_FOUND' : 'LOG_UNREADABLE', message: `cannot read log ${log}: ${code ?? (err as Error).message}`, hint: 'check the --log path', cause: err });
  }
}

async function loadKeyRing(signersPath: string, hmacSecrets: Record<string, string>, slackMs: number): Promise<{ keys: KeyRingData; warnings: string[] }> {
  let text: string;
  try {
    text = await readRegistryText(signersPath);
  } catch (err) {
    // HMAC-only logs need no registry: the secrets are the keys.
    if (err instanceof AgentkeysError && err.code === 'REGISTRY_NOT_FOUND' && Object.keys(hmacSecrets).length > 0) {
      return { keys: { signers: [], rejected: {}, hmacSecrets, slackMs }, warnings: [] };
    }
    throw err;
  }
  const parsed = parseSignerRegistryLenient(text, signersPath);
  return { keys: { signers: parsed.registry.signers, rejected: parsed.rejected, hmacSecrets, slackMs }, warnings: parsed.problems };
}

async function readHmacSecrets(files: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [kid, file] of Object.entries(files)) {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError({ code: 'HMAC_KEY_UNREADABLE', message: `cannot read HMAC secret for ${kid} from ${file}: ${(err as NodeJS.ErrnoException).code}`, hint: 'pass --hmac-key KID=FILE with a readable file', cause: err });
    }
    // One trailing newline is an artefact of `echo secret > file`, not part of the secret.
    out[kid] = Buffer.from(text.replace(/\r?\n$/, ''), 'utf8').toString('base64');
  }
  return out;
}
