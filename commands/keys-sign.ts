// `agentkeys keys sign` / `keys verify`: detached signatures over a file (a key manager's sign(data) and
// verify(data, signature, keyId)), with a KMS key or a local one.
import { createPublicKey } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { UsageError, VerificationError, type ExitCode } from '../src/errors.js';
import {
  signDetachedKms,
  signDetachedLocal,
  verifyDetachedKms,
  verifyDetachedLocal,
  type DetachedSignature,
} from '../src/signing/detached.js';
import { LocalKeySigner } from '../src/signing/signer.js';
import { decodeBase64Strict } from '../src/signing/verify.js';
import { writeFileAtomic } from '../src/sys/fs.js';
import { createContext, type CommandContext, type GlobalOptions } from './context.js';
import { openSigner, printKmsCalls, withKmsTrail } from './kms-support.js';
import { printJson, printLine, style } from './ui/format.js';
import { readOperatorFile } from '../src/sys/operator-file.js';

export interface DetachedOptions extends GlobalOptions {
  key?: string;
  in?: string;
  out?: string;
  signature?: string;
  alg?: string;
}

export async function runKeysSign(options: DetachedOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options, alg: undefined });
  const data = await readInput(options.in, '--in');
  const ref = requireKey(options.key);
  const result: DetachedSignature = await withKmsTrail(ctx, async () => {
    if (ref.startsWith('kms:')) {
      const kms = await ctx.services.kms();
      return signDetachedKms(kms, await kms.describeKey(ref.slice(4)), data, options.alg);
    }
    return signDetachedLocal(await localSigner(ctx, ref), data);
  });
  if (options.out) await writeFileAtomic(options.out, result.signature);
  printKmsCalls(ctx);
  const base64 = result.signature.toString('base64');
  if (ctx.out.json)
    printJson({
      ok: true,
      algorithm: result.algorithm,
      messageType: result.messageType ?? null,
      signature: base64,
      out: options.out ?? null,
    });
  else if (options.out) printLine(`${style.ok('✔')} ${result.algorithm} signature of ${options.in} → ${options.out}`);
  else printLine(base64);
  return 0;
}

export async function runKeysVerify(options: DetachedOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options, alg: undefined });
  const data = await readInput(options.in, '--in');
  const signature = await readSignature(options.signature);
  const ref = requireKey(options.key);
  const valid = await withKmsTrail(ctx, async () => {
    if (ref.startsWith('kms:')) {
      const kms = await ctx.services.kms();
      return verifyDetachedKms(kms, await kms.describeKey(ref.slice(4)), data, signature, options.alg);
    }
    const signer = await localSigner(ctx, ref);
    return verifyDetachedLocal(signer.alg, createPublicKey(signer.publicKeyPem()), data, signature);
  });
  printKmsCalls(ctx);
  if (!valid)
    throw new VerificationError({
      code: 'DETACHED_SIGNATURE_INVALID',
      message: `the signature does not verify over ${options.in} with ${ref}`,
      hint: 'the file, the signature or the key differs from what was signed',
    });
  if (ctx.out.json) printJson({ ok: true, valid: true });
  else printLine(`${style.ok('✔')} ${options.in} is signed by ${ref}`);
  return 0;
}

function requireKey(key: string | undefined): string {
  if (!key)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--key is required',
      hint: '--key kms:alias/release-signing, or --key local:<kid>',
    });
  return /^(kms|local|file):/.test(key) ? key : `kms:${key}`;
}

async function localSigner(ctx: CommandContext, ref: string): Promise<LocalKeySigner> {
  const signer = await openSigner(ctx, { ...ctx.config, keyRef: ref });
  if (!(signer instanceof LocalKeySigner))
    throw new UsageError({
      code: 'KEY_UNSUPPORTED',
      message: `${ref} is not a key that signs data (an HMAC secret has no detached signature)`,
      hint: 'use an Ed25519, ECDSA or RSA key',
    });
  return signer;
}

async function readInput(file: string | undefined, flag: string): Promise<Buffer> {
  if (!file) throw new UsageError({ code: 'FLAG_MISSING', message: `${flag} FILE is required` });
  return readOperatorFile(file, { code: 'INPUT_NOT_FOUND', what: flag });
}

/** A signature file (raw bytes, as openssl and `aws kms sign` write them) or base64 text. */
async function readSignature(given: string | undefined): Promise<Buffer> {
  if (!given) throw new UsageError({ code: 'FLAG_MISSING', message: '--signature FILE (or base64) is required' });
  const fromFile = await fsp.readFile(given).catch(() => undefined);
  if (fromFile) return fromFile;
  const decoded = decodeBase64Strict(given);
  if (!decoded)
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: '--signature is neither a readable file nor standard base64',
    });
  return decoded;
}
