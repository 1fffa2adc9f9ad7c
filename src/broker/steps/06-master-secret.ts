// Step 6: dev_key_service's master secret, written once on the host and never rotated: every
// wallet the service derived is derived from it, so a new one would orphan them all. The step
// creates it when absent (32 random bytes, base64, 0600) and otherwise only reads its size and
// mode; its value never crosses SSH. Anything there that is not what this step writes is left
// alone and named, never overwritten.
import * as path from 'node:path';
import { blocked, change, done, pending, type Step } from '../../steps/step.js';
import { shQuote } from '../../ssh/connection.js';
import type { BrokerContext } from '../context.js';
import { hostRun, ownByServiceUser } from '../host-files.js';

/** base64 of 32 bytes is 44 characters, and a newline. */
const SECRET_SIZE = 45;

export const masterSecret: Step<BrokerContext> = {
  num: 6,
  id: 'master-secret',
  title: 'dev_key_service master secret: written once on the host, never rotated, never read back',
  async check(ctx) {
    const file = ctx.paths.masterSecret;
    const out = (
      await hostRun(
        ctx.shell,
        `if [ -L ${shQuote(file)} ]; then echo link; elif [ -f ${shQuote(file)} ]; then ` +
          `stat -c 'file %a %s' ${shQuote(file)}; elif [ -e ${shQuote(file)} ]; then echo other; else echo missing; fi`,
        'read the master secret',
      )
    ).stdout.trim();
    if (out === 'missing')
      return pending([
        change('create', file, () => create(ctx, file), '32 random bytes, base64, mode 600, on the host'),
      ]);
    const m = /^file (\d+) (\d+)$/.exec(out);
    if (!m || Number(m[2]) !== SECRET_SIZE)
      return blocked(
        `${file} is there but is not what agentkeys writes (${m ? `${m[2]} bytes` : out}): it is never ` +
          'overwritten, because every wallet dev_key_service derived is derived from it',
        `if it is the secret the wallets came from, keep it and leave this step blocked; if it was never used, ` +
          `move it aside on the host (agentkeys ssh) and re-run`,
      );
    if (m[1] !== '600')
      return pending([change('update', file, () => restrict(ctx, file), `mode ${m[1]} → 600 (the value is kept)`)]);
    return done(`present (mode 600); written once, never rotated`);
  },
};

/** Written to a temp file, then `ln` to the name: ln refuses an existing name, so it is never replaced. */
async function create(ctx: BrokerContext, file: string): Promise<void> {
  const dir = path.posix.dirname(file);
  const script = [
    'set -e',
    'umask 077',
    `mkdir -p ${shQuote(dir)}`,
    `chmod 700 ${shQuote(dir)}`,
    `t=$(mktemp ${shQuote(`${dir}/.agentkeys.`)}XXXXXX)`,
    // The temp name goes whatever happens (after ln, the secret lives on under its own name).
    `trap 'rm -f "$t"' EXIT`,
    'head -c 32 /dev/urandom | base64 > "$t"',
    'sync "$t"',
    `if ! ln "$t" ${shQuote(file)} 2>/dev/null; then echo 'it exists now: not replaced' >&2; exit 7; fi`,
    ownByServiceUser(file),
  ].join('\n');
  await hostRun(ctx.shell, script, 'write the master secret');
  for (const s of ctx.services.filter((x) => x.name.startsWith('worker-'))) ctx.state.restart.add(s.name);
}

async function restrict(ctx: BrokerContext, file: string): Promise<void> {
  await hostRun(ctx.shell, `chmod 600 ${shQuote(file)}\n${ownByServiceUser(file)}`, 'restrict the master secret');
}
