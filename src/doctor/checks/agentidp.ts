// Seed 003's /health, from the operator's side: the database reachable and migrated, Redis
// answering PING, and the JWT pair a matching RSA-2048 pair.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { connectPg } from '../../db/pg.js';
import { loadMigrations, planMigrations } from '../../db/migrate.js';
import { redisPing } from '../redis.js';
import { fail, ok, skip, type DoctorCheck } from '../check.js';
import { redactUrl as redact } from '../../sys/redact.js';
import { messageOf } from '../../sys/operator-file.js';

export const databaseCheck: DoctorCheck = {
  id: 'agentidp.database',
  group: 'agentidp',
  title: 'DATABASE_URL is reachable and migrated',
  async run(ctx) {
    const url = ctx.config.databaseUrl;
    if (!url) return skip('DATABASE_URL is not set');
    const client = await connectPg({ url, statementTimeoutMs: 5000 }).catch((err: Error) => err);
    if (client instanceof Error)
      return fail(`${redact(url)}: ${client.message}`, 'start PostgreSQL, or fix DATABASE_URL (host, port, password)');
    try {
      const plan = await planMigrations(client, await loadMigrations());
      if (plan.pending.length > 0)
        return fail(
          `${plan.pending.length} migration(s) pending: ${plan.pending.map((m) => m.version).join(', ')}`,
          'agentkeys db migrate',
        );
      return ok(`${redact(url)}: ${plan.applied.length} migrations applied, none pending`);
    } finally {
      await client.end();
    }
  },
};

export const redisCheck: DoctorCheck = {
  id: 'agentidp.redis',
  group: 'agentidp',
  title: 'REDIS_URL answers PING',
  async run(ctx) {
    const url = ctx.config.redisUrl;
    if (!url) return skip('REDIS_URL is not set');
    const answer = await redisPing(url).catch((err: Error) => err);
    if (answer instanceof Error)
      return fail(`${redact(url)}: ${answer.message}`, 'start Redis (systemctl start redis-server), or fix REDIS_URL');
    return ok(`${redact(url)}: ${answer}`);
  },
};

/** Env files often carry PEMs on one line with literal \n. */
const pem = (text: string) => text.replace(/\\n/g, '\n');

export const jwtPairCheck: DoctorCheck = {
  id: 'agentidp.jwt',
  group: 'agentidp',
  title: 'JWT_PRIVATE_KEY and JWT_PUBLIC_KEY are a matching RSA-2048 pair',
  async run(ctx) {
    const { jwtPrivateKey, jwtPublicKey } = ctx.config;
    if (!jwtPrivateKey && !jwtPublicKey) return skip('JWT_PRIVATE_KEY and JWT_PUBLIC_KEY are not set');
    const fix = 'make a new pair: agentkeys rotate-key --jwt DIR (then set both from DIR)';
    if (!jwtPrivateKey || !jwtPublicKey)
      return fail(`only ${jwtPrivateKey ? 'JWT_PRIVATE_KEY' : 'JWT_PUBLIC_KEY'} is set`, fix);
    let priv: KeyObject;
    let pub: KeyObject;
    try {
      priv = createPrivateKey(pem(jwtPrivateKey));
      pub = createPublicKey(pem(jwtPublicKey));
    } catch (err) {
      return fail(`not a PEM key: ${messageOf(err)}`, fix);
    }
    const bits = priv.asymmetricKeyDetails?.modulusLength;
    if (priv.asymmetricKeyType !== 'rsa' || bits !== 2048)
      return fail(`JWT_PRIVATE_KEY is ${priv.asymmetricKeyType} ${bits ?? ''}, not RSA-2048 (RS256)`, fix);
    const derived = createPublicKey(priv).export({ type: 'spki', format: 'der' });
    if (!derived.equals(pub.export({ type: 'spki', format: 'der' })))
      return fail('JWT_PUBLIC_KEY is not the public half of JWT_PRIVATE_KEY', fix);
    return ok('RSA-2048 pair, public key matches');
  },
};
