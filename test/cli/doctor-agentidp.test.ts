// doctor --agentidp ENVFILE [--agentidp-url URL] (issue 28): AgentIdP's environment checked as its
// start-up would take it, and the running service's /health and /metrics probed (a local stand-in
// answering as AgentIdP does). No AWS is needed: only the agentidp group is looked at here.
import { createServer } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

interface Check {
  id: string;
  status: string;
  detail: string;
  fix?: string;
}

async function standIn(health: unknown) {
  const server = createServer((req, res) => {
    if (req.url === '/health') return void res.writeHead(200).end(JSON.stringify(health));
    if (req.url === '/metrics')
      return void res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end('# TYPE agentidp_tokens_issued_total counter\nagentidp_tokens_issued_total{scope="read"} 3\n');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() };
}

const agentidpChecks = async (cwd: string, args: string[]) => {
  const r = await runCli(['--json', 'doctor', ...args], { cwd, env: { AWS_EC2_METADATA_DISABLED: 'true' } });
  const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
  return Object.fromEntries(checks.filter((c) => c.id.startsWith('agentidp.')).map((c) => [c.id, c]));
};

describe('doctor --agentidp', () => {
  it('names what AgentIdP would refuse or regret: a missing key, CORS * in production, Vault without a token', async () => {
    const cwd = tempDir();
    writeFileSync(
      path.join(cwd, 'agentidp.env'),
      'NODE_ENV=production\nDATABASE_URL=postgres://u:secret@127.0.0.1:1/idp\nREDIS_URL=redis://127.0.0.1:1\n' +
        'VAULT_ADDR=https://vault.internal:8200\nPOLICY_DIR=/nonexistent/policies\n',
    );
    const c = await agentidpChecks(cwd, ['--agentidp', 'agentidp.env']);
    expect(c['agentidp.env']).toMatchObject({ status: 'fail' });
    expect(c['agentidp.env']!.detail).toContain('JWT_PRIVATE_KEY, JWT_PUBLIC_KEY not set');
    expect(c['agentidp.env']!.detail).toContain('CORS_ORIGIN is * (the default) with NODE_ENV=production');
    expect(c['agentidp.env']!.detail).toContain('VAULT_ADDR is set without VAULT_TOKEN');
    expect(c['agentidp.env']!.detail).toContain('POLICY_DIR /nonexistent/policies is not a readable folder');
    // The database check reads AgentIdP's DATABASE_URL, and never prints its password.
    expect(c['agentidp.database']!.status).toBe('fail');
    expect(JSON.stringify(c)).not.toContain('secret');
    expect(c['agentidp.health']!.status).toBe('skip');
  });

  it('probes /health and /metrics: ok when postgres and redis are connected, named when not', async () => {
    const cwd = tempDir();
    mkdirSync(path.join(cwd, 'policies'));
    writeFileSync(
      path.join(cwd, 'agentidp.env'),
      `NODE_ENV=production\nCORS_ORIGIN=https://app.example.com\nPOLICY_DIR=${path.join(cwd, 'policies')}\n` +
        'DATABASE_URL=postgres://u@127.0.0.1:1/idp\nREDIS_URL=redis://127.0.0.1:1\nJWT_PRIVATE_KEY=x\nJWT_PUBLIC_KEY=y\n',
    );
    const healthy = await standIn({ status: 'ok', postgres: 'connected', redis: 'connected' });
    const sick = await standIn({ status: 'degraded', postgres: 'error', redis: 'connected' });
    try {
      const good = await agentidpChecks(cwd, ['--agentidp', 'agentidp.env', '--agentidp-url', healthy.url]);
      expect(good['agentidp.env']!.status).toBe('ok');
      expect(good['agentidp.health']).toMatchObject({ status: 'ok' });
      expect(good['agentidp.metrics']).toMatchObject({
        status: 'ok',
        detail: expect.stringContaining('1 agentidp_ metric'),
      });
      const bad = await agentidpChecks(cwd, ['--agentidp', 'agentidp.env', '--agentidp-url', sick.url]);
      expect(bad['agentidp.health']).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining('"postgres":"error"'),
      });
    } finally {
      healthy.close();
      sick.close();
    }
  });
});
