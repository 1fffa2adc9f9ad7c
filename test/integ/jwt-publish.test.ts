// rotate-key --jwt reaching the running service: the pair published in a Secrets Manager secret
// (moto) and AgentIdP's .env, the service restarted (ECS UpdateService on moto, and a restart
// command), and the service's JWKS checked for the new key. The "service" is a local HTTP server
// that, like AgentIdP, reads its .env when it (re)starts and serves JWT_JWKS from it.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import * as path from 'node:path';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvFile } from '../../src/config/env-file.js';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { tempDir } from '../helpers/tmp.js';

const moto = useMoto();

/** A stand-in AgentIdP: reads .env at start and on every restart (the restart command's touch). */
function standInService(cwd: string, mode: { garbage?: boolean } = {}) {
  let startedAt = -1;
  let keys: unknown[] = [];
  const load = () => {
    const flag = path.join(cwd, 'restarted');
    const stamp = (() => {
      try {
        return statSync(flag).mtimeMs;
      } catch {
        return 0;
      }
    })();
    if (stamp === startedAt) return;
    startedAt = stamp;
    const env = parseEnvFile(readFileSync(path.join(cwd, '.env'), 'utf8'), '.env');
    keys = env.JWT_JWKS ? (JSON.parse(env.JWT_JWKS) as { keys: unknown[] }).keys : [];
  };
  const server: Server = createServer((_req, res) => {
    if (mode.garbage) return void res.writeHead(200).end('<html>login</html>');
    load();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  return {
    start: () => {
      load(); // the service starts before any rotation: what .env says now is what it serves
      return new Promise<string>((r) => server.listen(0, '127.0.0.1', () => r(url())));
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  function url() {
    return `http://127.0.0.1:${(server.address() as { port: number }).port}/.well-known/jwks.json`;
  }
}

const secrets = () => new SecretsManagerClient({ region: 'us-east-1' });
const secretOf = async (id: string, stage = 'AWSCURRENT') =>
  JSON.parse(
    (await secrets().send(new GetSecretValueCommand({ SecretId: id, VersionStage: stage }))).SecretString!,
  ) as Record<string, string>;

describe('rotate-key --jwt: published, restarted, served', () => {
  const ecs = new ECSClient({ region: 'us-east-1' });
  beforeAll(async () => {
    await secrets().send(
      new CreateSecretCommand({
        Name: 'agentidp/test',
        SecretString: JSON.stringify({ DATABASE_URL: 'postgres://idp@db/idp', JWT_PRIVATE_KEY: 'old' }),
      }),
    );
    await secrets().send(new CreateSecretCommand({ Name: 'agentidp/plain', SecretString: '-----BEGIN…' }));
    await ecs.send(new CreateClusterCommand({ clusterName: 'agentidp' }));
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'agentidp',
        containerDefinitions: [{ name: 'api', image: 'agentidp:1', memory: 512 }],
      }),
    );
    await ecs.send(
      new CreateServiceCommand({
        cluster: 'agentidp',
        serviceName: 'api',
        taskDefinition: 'agentidp',
        desiredCount: 1,
      }),
    );
  });
  afterAll(() => ecs.destroy());

  it('publishes to the secret and .env, restarts, and sees the new key served; the old one stays for the overlap', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, '.env'), '# AgentIdP\nNODE_ENV=production\nJWT_PRIVATE_KEY=\n', { mode: 0o644 });
    const service = standInService(cwd);
    const jwks = await service.start();
    const cli = (extra: string[] = []) =>
      runCli(
        ['--json', 'rotate-key', '--jwt', 'jwt', '--publish-secret', 'agentidp/test', '--publish-env', '.env']
          .concat(['--ecs-service', 'agentidp/api', '--restart-command', 'touch restarted', '--jwks-url', jwks])
          .concat(['--wait', '10', '--yes', ...extra]),
        { cwd, env: moto.current.env },
      );
    try {
      const first = await cli();
      expect(first.code, first.stdout + first.stderr).toBe(0);
      const one = JSON.parse(first.stdout);
      expect(one).toMatchObject({ ok: true, resumed: false, served: { retiringServed: [], retiringMissing: [] } });
      const secret = await secretOf('agentidp/test');
      expect(secret.DATABASE_URL).toBe('postgres://idp@db/idp'); // the other settings kept
      expect(secret.JWT_KEY_ID).toBe(one.kid);
      expect((await secretOf('agentidp/test', 'AWSPREVIOUS')).JWT_PRIVATE_KEY).toBe('old'); // a rollback is there
      // The .env: a matching RSA-2048 pair as AgentIdP reads it, private to its owner now.
      const env = parseEnvFile(readFileSync(path.join(cwd, '.env'), 'utf8'), '.env');
      const priv = createPrivateKey(env.JWT_PRIVATE_KEY!.replace(/\\n/g, '\n'));
      const pub = createPublicKey(env.JWT_PUBLIC_KEY!.replace(/\\n/g, '\n'));
      expect(createPublicKey(priv).export({ format: 'jwk' })).toEqual(pub.export({ format: 'jwk' }));
      expect(env.NODE_ENV).toBe('production');
      expect(statSync(path.join(cwd, '.env')).mode & 0o777).toBe(0o600);
      const deployments = await ecs.send(new DescribeServicesCommand({ cluster: 'agentidp', services: ['api'] }));
      expect(deployments.services?.[0]?.deployments?.length).toBeGreaterThan(0);
      expect(one.done.join('\n')).toContain('agentidp/api');
      // The second rotation: the first key is still served for the overlap.
      const second = JSON.parse((await cli()).stdout);
      expect(second).toMatchObject({ ok: true, resumed: false, served: { retiringServed: [one.kid] } });
      expect(second.kid).not.toBe(one.kid);
    } finally {
      await service.close();
    }
  });

  it('a failed restart is resumed by the next run with the same key, never a second one', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, '.env'), 'JWT_PRIVATE_KEY=\n', { mode: 0o600 });
    const service = standInService(cwd);
    const jwks = await service.start();
    const run = (restart: string, wait = '10') =>
      runCli(
        ['--json', 'rotate-key', '--jwt', 'jwt', '--publish-env', '.env', '--restart-command', restart].concat([
          '--jwks-url',
          jwks,
          '--wait',
          wait,
          '--yes',
        ]),
        { cwd, env: moto.current.env },
      );
    try {
      const failed = await run('echo cannot restart >&2; exit 3');
      expect(JSON.parse(failed.stdout).error).toMatchObject({
        code: 'JWT_RESTART_FAILED',
        message: expect.stringContaining('cannot restart'),
      });
      const kid = JSON.parse(readFileSync(path.join(cwd, 'jwt', 'jwt-state.json'), 'utf8')).current as string;
      // Restart that does nothing: the service never serves the key.
      const unserved = await run('true', '2');
      expect(JSON.parse(unserved.stdout).error.code).toBe('JWKS_NOT_SERVED');
      const resumed = JSON.parse((await run('touch restarted')).stdout);
      expect(resumed).toMatchObject({ ok: true, resumed: true, kid });
      expect(readdirSync(path.join(cwd, 'jwt', 'keys')).filter((f) => f.endsWith('.pub.pem'))).toHaveLength(1);
      // Published now: the next run is a new rotation again.
      expect(JSON.parse((await run('touch restarted')).stdout)).toMatchObject({ resumed: false });
    } finally {
      await service.close();
    }
  });

  it('hostile or missing places are named errors: a garbled JWKS, a plain-text secret, no secret', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, '.env'), 'JWT_PRIVATE_KEY=\n', { mode: 0o600 });
    const garbled = standInService(cwd, { garbage: true });
    const jwks = await garbled.start();
    const code = async (args: string[]) =>
      JSON.parse(
        (await runCli(['--json', 'rotate-key', '--jwt', 'jwt', '--yes', ...args], { cwd, env: moto.current.env }))
          .stdout,
      ).error?.code;
    try {
      expect(await code(['--publish-env', '.env', '--jwks-url', jwks, '--wait', '1'])).toBe('JWKS_NOT_SERVED');
      expect(await code(['--publish-secret', 'agentidp/plain'])).toBe('SECRET_FORMAT_UNSUPPORTED');
      expect(await code(['--publish-secret', 'agentidp/none'])).toBe('SECRET_NOT_FOUND');
      expect(await code(['--ecs-service', 'just-a-name'])).toBe('FLAG_INVALID');
      expect(await code(['--jwks-url', 'file:///etc/passwd'])).toBe('FLAG_INVALID');
      expect(await code(['--publish-env', 'missing.env'])).toBe('ENV_FILE_NOT_FOUND');
    } finally {
      await garbled.close();
    }
  });
});
