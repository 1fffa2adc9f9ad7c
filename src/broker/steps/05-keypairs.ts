// Step 5: the broker's OIDC and session keypairs, generated on the host with openssl (the private
// halves never leave it) and never replaced: the OIDC key signs the tokens AWS STS trusts through
// the provider setup registered, so a new one would break federation until the JWKS is fetched
// again. Only the public halves come back: the OIDC one as a JWKS file here, for the OIDC step.
import { readFile, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { change, done, pending, type Change, type Step } from '../../steps/step.js';
import { rsaJwk } from '../../signing/jwt-rotate.js';
import { writeFileAtomic } from '../../sys/fs.js';
import { shQuote } from '../../ssh/connection.js';
import type { BrokerContext } from '../context.js';
import { hostCommandFailed, hostRead, hostRun, ownByServiceUser, readHostFiles } from '../host-files.js';

interface Keypair {
  name: 'oidc' | 'session';
  file: string;
  /** RS256 for OIDC (what every STS accepts), ES256 for sessions. */
  alg: 'RS256' | 'ES256';
  genpkey: string;
}

const keypairsOf = (ctx: BrokerContext): Keypair[] => [
  { name: 'oidc', file: ctx.keypairs.oidc, alg: 'RS256', genpkey: '-algorithm RSA -pkeyopt rsa_keygen_bits:2048' },
  {
    name: 'session',
    file: ctx.keypairs.session,
    alg: 'ES256',
    genpkey: '-algorithm EC -pkeyopt ec_paramgen_curve:P-256',
  },
];

const pubOf = (k: Keypair) => `${k.file}.pub.pem`;

export const keypairs: Step<BrokerContext> = {
  num: 5,
  id: 'keypairs',
  title: 'OIDC and session keypairs generated on the host (never replaced); the OIDC JWKS fetched back',
  async check(ctx) {
    const pairs = keypairsOf(ctx);
    const facts = pairs
      .map(
        (k) =>
          `if [ -f ${shQuote(k.file)} ]; then printf 'kp %s %s\\n' ${k.name} "$(stat -c %a ${shQuote(k.file)})"; fi`,
      )
      .join('\n');
    const read = await hostRead(ctx.shell, facts, pairs.map(pubOf));
    const modes = new Map(
      read.facts
        .map((l) => /^kp (\S+) (\d+)$/.exec(l))
        .filter((m) => m)
        .map((m) => [m![1], m![2]]),
    );
    const changes: Change[] = [];
    for (const k of pairs) {
      const mode = modes.get(k.name);
      const pub = read.files.get(pubOf(k))!;
      if (mode === undefined) {
        changes.push(change('create', k.file, () => generate(ctx, k), `${k.alg}, on the host`));
        continue;
      }
      if (pub.kind !== 'file') changes.push(change('create', pubOf(k), () => derivePublic(ctx, k), 'from the key'));
      if (mode !== '600') changes.push(change('update', k.file, () => restrict(ctx, k), `mode ${mode} → 600`));
    }
    const oidcPub = read.files.get(pubOf(pairs[0]!))!;
    const local = await readFile(ctx.jwksFile, 'utf8').catch(() => undefined);
    if (oidcPub.kind !== 'file')
      // Made by the changes above: fetched back once they are applied.
      changes.push(change('write', ctx.jwksFile, () => fetchJwks(ctx, pubOf(pairs[0]!)), 'public JWKS, fetched back'));
    else if (local !== jwksOf(oidcPub.content))
      changes.push(
        change('write', ctx.jwksFile, () => writeJwks(ctx.jwksFile, jwksOf(oidcPub.content)), 'public JWKS'),
      );
    if (changes.length > 0) return pending(changes);
    return done(`${pairs.length} keypairs on the host (0600); the OIDC JWKS is in ${ctx.jwksFile}`);
  },
};

/**
 * The key made in a private temp folder, the JSON written beside it, then linked into place with
 * `ln` (which refuses an existing name): two runs at once cannot both create one.
 */
async function generate(ctx: BrokerContext, k: Keypair): Promise<void> {
  const dir = path.posix.dirname(k.file);
  // A PEM is base64, dashes and spaces: only its line ends need writing as \n inside the JSON string.
  const esc = String.raw`awk 'BEGIN{ORS=""} {print $0 "\\n"}'`;
  const script = [
    'set -e',
    'umask 077',
    `mkdir -p ${shQuote(dir)}`,
    // The private key is made beside its final place (0700, umask 077), never in a shared /tmp.
    `t=$(mktemp -d ${shQuote(`${dir}/.agentkeys.`)}XXXXXX)`,
    // Whatever fails, no copy of the private key is left beside the pair (the link, once made, stays).
    `j=''; trap 'rm -rf "$t"; [ -z "$j" ] || rm -f "$j"' EXIT`,
    `openssl genpkey ${k.genpkey} -out "$t/key.pem" 2>/dev/null`,
    'openssl pkey -in "$t/key.pem" -pubout -out "$t/pub.pem"',
    `printf '{"alg":"${k.alg}","private_key_pem":"%s","public_key_pem":"%s"}\\n' "$(${esc} "$t/key.pem")" ` +
      `"$(${esc} "$t/pub.pem")" > "$t/pair.json"`,
    `j=$(mktemp ${shQuote(`${dir}/.agentkeys.`)}XXXXXX)`,
    'cat "$t/pair.json" > "$j"; sync "$j"',
    `if ! ln "$j" ${shQuote(k.file)} 2>/dev/null; then echo 'another run made it first' >&2; exit 7; fi`,
    `chmod 644 "$t/pub.pem"; mv -f "$t/pub.pem" ${shQuote(pubOf(k))}`,
    ownByServiceUser(k.file),
  ].join('\n');
  await hostRun(ctx.shell, script, `generate the ${k.name} keypair`);
  ctx.state.restart.add('broker');
}

/** The public half again from the key itself (the .pub.pem was removed); the key is untouched. */
async function derivePublic(ctx: BrokerContext, k: Keypair): Promise<void> {
  const script = [
    'set -e',
    't=$(mktemp)',
    `sed -n 's/.*"private_key_pem":"\\([^"]*\\)".*/\\1/p' ${shQuote(k.file)} | sed 's/\\\\n/\\n/g' | ` +
      `openssl pkey -pubout -out "$t"`,
    `chmod 644 "$t"; mv -f "$t" ${shQuote(pubOf(k))}`,
  ].join('\n');
  await hostRun(ctx.shell, script, `derive the ${k.name} public key`);
}

async function restrict(ctx: BrokerContext, k: Keypair): Promise<void> {
  await hostRun(ctx.shell, `chmod 600 ${shQuote(k.file)}\n${ownByServiceUser(k.file)}`, `restrict ${k.file}`);
}

/** The OIDC public key as a JWKS (kid: RFC 7638 thumbprint), as the broker serves it. */
export function jwksOf(publicPem: string): string {
  return `${JSON.stringify({ keys: [rsaJwk(publicPem)] }, null, 2)}\n`;
}

async function fetchJwks(ctx: BrokerContext, pubFile: string): Promise<void> {
  const pub = (await readHostFiles(ctx.shell, [pubFile])).get(pubFile)!;
  if (pub.kind !== 'file')
    throw hostCommandFailed(ctx.shell, `read ${pubFile}`, { code: 1, stdout: '', stderr: 'missing' });
  await writeJwks(ctx.jwksFile, jwksOf(pub.content));
}

async function writeJwks(file: string, jwks: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, jwks);
}
