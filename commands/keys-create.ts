import { UsageError, type ExitCode } from '../src/errors.js';
import { parseAlgorithm } from '../src/signing/algorithms.js';
import { createLocalKey } from '../src/signing/local-keys.js';
import { createContext, type GlobalOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';

export interface KeysCreateOptions extends GlobalOptions {
  local?: boolean;
  alg?: string;
  kid?: string;
  dir?: string;
  signers?: string;
  description?: string;
}

export async function runKeysCreate(options: KeysCreateOptions): Promise<ExitCode> {
  if (!options.local) {
    throw new UsageError({
      code: 'KMS_KEYS_UNAVAILABLE',
      message: 'creating KMS keys is not available in this build yet',
      hint: 'create a local key: agentkeys keys create --local --alg ed25519 --kid <kid>',
    });
  }
  if (!options.alg)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--alg is required',
      hint: '--alg ed25519|rsa-sha256|ecdsa-p256|ecdsa-secp256k1|hmac-sha256',
    });
  if (!options.kid) throw new UsageError({ code: 'FLAG_MISSING', message: '--kid is required', hint: '--kid audit-1' });
  const alg = parseAlgorithm(options.alg, '--alg');
  const ctx = await createContext({ ...options, alg });
  const created = await createLocalKey({
    alg,
    kid: options.kid,
    dir: ctx.config.dir,
    signersPath: ctx.config.signersPath,
    ...(options.description ? { description: options.description } : {}),
  });
  if (ctx.out.json) {
    printJson({
      ok: true,
      kid: created.kid,
      algorithm: created.alg,
      keyFile: created.keyFile,
      signers: created.signersPath ?? null,
    });
    return 0;
  }
  printLine(`${style.ok('✔')} created ${created.alg} key ${style.bold(created.kid)}`);
  printLine(`  private key  ${created.keyFile} ${style.dim('(0600, never printed)')}`);
  if (created.signersPath) printLine(`  public key   added to ${created.signersPath}`);
  else printLine(`  HMAC secrets stay out of signers.json; verify with --hmac-key ${created.kid}=${created.keyFile}`);
  printLine(
    style.dim(`  sign with: agentkeys sign --log audit.jsonl --key local:${created.kid} --event-type T --payload '{}'`),
  );
  return 0;
}
