// doctor --agentidp ENVFILE: AgentIdP's environment as its own start-up would take it (its documented
// variables table), checked before it starts, and a probe of the running service's /health and
// /metrics when its URL is given. The database, Redis and JWT checks read the same file.
import { access, constants } from 'node:fs/promises';
import {
  fail,
  ok,
  skip,
  warn,
  type AgentidpTarget,
  type DoctorCheck,
  type DoctorContext,
  type Outcome,
} from '../check.js';
import { messageOf } from '../../sys/operator-file.js';
import { redactUrl } from '../../sys/redact.js';

const REQUIRED = ['DATABASE_URL', 'REDIS_URL', 'JWT_PRIVATE_KEY', 'JWT_PUBLIC_KEY'] as const;

const targetOf = (ctx: DoctorContext): AgentidpTarget | undefined => ctx.agentidp;

export const agentidpEnvCheck: DoctorCheck = {
  id: 'agentidp.env',
  group: 'agentidp',
  title: "AgentIdP's environment: required values, CORS, Vault, the policy folder, NODE_ENV",
  async run(ctx) {
    const t = targetOf(ctx);
    if (!t) return skip('no --agentidp ENVFILE');
    const env = t.env;
    const problems: string[] = [];
    const missing = REQUIRED.filter((k) => !env[k]);
    if (missing.length > 0) problems.push(`${missing.join(', ')} not set (AgentIdP exits at start-up)`);
    const production = env.NODE_ENV === 'production';
    if (production && (env.CORS_ORIGIN ?? '*') === '*')
      problems.push('CORS_ORIGIN is * (the default) with NODE_ENV=production: name the origin(s)');
    if (env.VAULT_ADDR && !env.VAULT_TOKEN) problems.push('VAULT_ADDR is set without VAULT_TOKEN');
    const policyDir = env.POLICY_DIR ?? '/policies';
    const readable = await access(policyDir, constants.R_OK).then(
      () => true,
      () => false,
    );
    if (env.POLICY_DIR !== undefined && !readable)
      problems.push(`POLICY_DIR ${policyDir} is not a readable folder here`);
    if (problems.length > 0)
      return fail(`${t.file}: ${problems.join('; ')}`, `fix ${t.file}, then: agentkeys doctor --agentidp ${t.file}`);
    const notes = [
      `NODE_ENV=${env.NODE_ENV ?? '(unset)'}`,
      `CORS_ORIGIN=${env.CORS_ORIGIN ?? '*'}`,
      env.VAULT_ADDR ? `Vault ${env.VAULT_ADDR}` : 'credentials hashed with bcrypt (no Vault)',
    ];
    if (!production)
      return warn(`${t.file}: ${notes.join(', ')}`, 'set NODE_ENV=production for a production deployment');
    return ok(`${t.file}: ${notes.join(', ')}`);
  },
};

const TIMEOUT_MS = 5000;

async function get(url: string): Promise<{ status: number; body: string } | Error> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'manual' });
    return { status: res.status, body: (await res.text()).slice(0, 1 << 20) };
  } catch (err) {
    return new Error(messageOf(err));
  }
}

/** One GET of the running service's `path`, judged by `judge`; skipped without --agentidp-url. */
function serviceCheck(
  id: string,
  title: string,
  path: string,
  fix: string,
  judge: (url: string, res: { status: number; body: string }) => Outcome,
): DoctorCheck {
  return {
    id,
    group: 'agentidp',
    title,
    async run(ctx) {
      const url = targetOf(ctx)?.url;
      if (!url) return skip('no --agentidp-url to probe');
      const res = await get(`${url}${path}`);
      if (res instanceof Error) return fail(`${redactUrl(url)}${path}: ${res.message}`, fix);
      return judge(redactUrl(url), res);
    },
  };
}

const HEALTH_FIX = 'look at the service: its logs, then DATABASE_URL and REDIS_URL (the agentidp.* checks above)';

export const agentidpHealthCheck = serviceCheck(
  'agentidp.health',
  'The running AgentIdP answers /health with postgres and redis connected',
  '/health',
  HEALTH_FIX,
  (url, res) => {
    let body: { status?: unknown; postgres?: unknown; redis?: unknown } = {};
    try {
      body = JSON.parse(res.body) as typeof body;
    } catch {
      // not the expected answer: reported below
    }
    const good =
      res.status === 200 && body.status === 'ok' && body.postgres === 'connected' && body.redis === 'connected';
    if (!good) return fail(`${url}/health answered ${res.status} ${res.body.slice(0, 200)}`, HEALTH_FIX);
    return ok(`${url}/health: ok, postgres and redis connected`);
  },
);

const METRICS_FIX = 'AgentIdP serves /metrics itself (prom-client); check the route, and scrape it from inside';

export const agentidpMetricsCheck = serviceCheck(
  'agentidp.metrics',
  'The running AgentIdP serves its Prometheus metrics',
  '/metrics',
  METRICS_FIX,
  (url, res) => {
    if (res.status !== 200 || !/^agentidp_\w+/m.test(res.body))
      return fail(`${url}/metrics answered ${res.status} without agentidp_ metrics`, METRICS_FIX);
    const names = new Set([...res.body.matchAll(/^(agentidp_\w+?)(?:_bucket|_sum|_count)?[{ ]/gm)].map((m) => m[1]));
    return ok(`${url}/metrics: ${names.size} agentidp_ metric(s)`);
  },
);
