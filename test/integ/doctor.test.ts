// agentkeys doctor end to end: moto over HTTP for AWS, a real HTTPS issuer on loopback (a CA the
// test makes with openssl, trusted through NODE_EXTRA_CA_CERTS), the run's real PostgreSQL and a
// real redis-server. Setup builds the stack, doctor calls it healthy, then one thing at a time is
// broken and doctor must name exactly that check, with its fix.
// moto deviations met here (aws-and-moto.md): SES never verifies identities, so this file's moto
// runs with the launcher's MOTO_SES_VERIFIED=1 (verified, DKIM SUCCESS, as AWS reports once the
// CNAMEs resolve); SimulatePrincipalPolicy and TestDNSAnswer are missing from moto and answered by
// the launcher's patches (identity policies without conditions; the zone's own records).
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { startPrometheus } from '../helpers/prometheus.js';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { IAM } from '@aws-sdk/client-iam';
import { Route53 } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKmsApi } from '../../src/aws/kms.js';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { createTestDatabase } from '../helpers/pg-db.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';
import { seedAccount, stackFiles, type StackFiles } from '../helpers/setup-harness.js';
import { startIssuer, type Issuer } from '../helpers/tls-issuer.js';

const moto = useMoto({ extraEnv: { MOTO_SES_VERIFIED: '1' } });
const region = { region: 'us-east-1' };

interface Check {
  id: string;
  status: string;
  detail: string;
  fix?: string;
}

let issuer: Issuer;
let redis: RunningRedis;
let files: StackFiles;
let env: Record<string, string>;

const pair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().replace(/\n/g, '\\n'),
    JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
};

async function doctor(extra: Record<string, string> = {}, args: string[] = []) {
  const r = await runCli(['--json', 'doctor', '--test', ...args], { cwd: files.cwd, env: { ...env, ...extra } });
  const out = JSON.parse(r.stdout) as { healthy: boolean; checks: Check[] };
  return { code: r.code, out, stderr: r.stderr, failed: out.checks.filter((c) => c.status === 'fail') };
}

beforeAll(async () => {
  [issuer, redis] = await Promise.all([startIssuer(), startRedis('s3cret')]);
  const { zoneId } = await seedAccount();
  // One stack for the whole file (tempDir would be removed after the first test).
  files = await stackFiles(zoneId, { test: true, cwd: mkdtempSync(path.join(tmpdir(), 'agentkeys-doctor-')) });
  const port = new URL(issuer.url).port;
  appendFileSync(
    files.operator,
    `\nOIDC_ISSUER=${issuer.url}\nOIDC_PROVIDER_ARN=arn:aws:iam::123456789012:oidc-provider/localhost:${port}\n`,
  );
  const database = await createTestDatabase();
  env = {
    ...moto.current.env,
    NODE_EXTRA_CA_CERTS: issuer.caFile,
    DATABASE_URL: database,
    REDIS_URL: redis.url,
    ...pair(),
  };
  const up = await runCli(['--json', 'setup', '--test', '--yes'], { cwd: files.cwd, env });
  expect(up.code, up.stdout + up.stderr).toBe(0);
  const migrate = await runCli(['db', 'migrate'], { cwd: files.cwd, env });
  expect(migrate.code, migrate.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  rmSync(files.cwd, { recursive: true, force: true });
  await issuer?.close();
  await redis?.stop();
});

describe('agentkeys doctor', () => {
  it('calls the freshly set-up stack healthy (exit 0), every check ok or skipped for a reason', async () => {
    const r = await doctor();
    expect(r.failed, r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    const status = Object.fromEntries(r.out.checks.map((c) => [c.id, c.status]));
    for (const id of [
      'aws.account',
      'kms.audit-key',
      'grants.audit-sign',
      'witness',
      'grants.broker-host',
      'grants.daemon',
      'grants.least-privilege',
      'ses.domain',
      'ses.sender',
      'dns.records',
      'oidc.provider',
      'oidc.discovery',
      'oidc.jwks',
      'oidc.healthz',
      'oidc.tls',
      'ssh.ready',
      'agentidp.database',
      'agentidp.redis',
      'agentidp.jwt',
    ])
      expect([id, status[id]]).toEqual([id, 'ok']);
    // A new account is in the SES sandbox (moto's GetAccount, the launcher's patch): a warning with the request.
    expect(r.out.checks.find((c) => c.id === 'ses.account')).toMatchObject({
      status: 'warn',
      fix: expect.stringContaining('aws sesv2 put-account-details --region us-east-1 --production-access-enabled'),
    });
    const tls = r.out.checks.find((c) => c.id === 'oidc.tls')!;
    expect(tls.detail).toMatch(/SHA-1 [0-9a-f]{40}/);
  });

  it('--prometheus FILE: the textfile collector format promtool accepts, with the measured numbers', async () => {
    const file = path.join(files.cwd, 'agentkeys.prom');
    const r = await doctor({}, ['--prometheus', file]);
    expect(r.code).toBe(0);
    const text = readFileSync(file, 'utf8');
    // Debian's prometheus package: promtool lints names, units, HELP and TYPE.
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
    expect(text).toContain('agentkeys_doctor_healthy 1\n');
    expect(text).toContain('agentkeys_doctor_check_status{check="kms.audit-key",group="kms",status="ok"} 1\n');
    expect(text).toMatch(/agentkeys_audit_key_age_seconds\{alias="alias\/agentkeys-audit-test"\} 0\n/);
    expect(text).toMatch(/agentkeys_tls_certificate_expiry_timestamp_seconds\{host="[^"]+"\} \d{10}\n/);
    expect(text).toMatch(/agentkeys_access_key_age_seconds\{user="agentkeys-daemon-test",key="AKIA\w+"\} \d+\n/);
    // What node_exporter's textfile collector would expose, served as it is and scraped by a real Prometheus.
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(text));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const prometheus = await startPrometheus(`127.0.0.1:${(server.address() as { port: number }).port}`);
    try {
      const healthy = await prometheus.query('agentkeys_doctor_healthy');
      expect(healthy[0]!.value[1]).toBe('1');
    } finally {
      await prometheus.close();
      await new Promise((r) => server.close(r));
    }
  }, 60_000);

  it("--isolation: each actor its own prefix only; a grant over every actor's prefix is named", async () => {
    // moto has no SimulatePrincipalPolicy: the launcher's evaluator answers it, with the context
    // keys (the session tag), policy variables, String/Null conditions and the bucket policy.
    const isolation = async () => (await doctor({}, ['--isolation'])).out.checks.find((c) => c.id === 'isolation')!;
    const good = await isolation();
    expect(good).toMatchObject({ status: 'ok', detail: expect.stringContaining('12 probes over 3 data classes') });
    const iam = new IAM(region);
    const wide = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::agentkeys-vault-test-123456789012/bots/*' },
      ],
    });
    await iam.putRolePolicy({ RoleName: 'agentkeys-vault-role-test', PolicyName: 'too-wide', PolicyDocument: wide });
    try {
      const bad = await isolation();
      expect(bad.status).toBe('fail');
      expect(bad.detail).toContain("agentkeys-vault-role-test may s3:PutObject another actor's prefix");
      expect(bad.fix).toContain('--only-step data-classes');
    } finally {
      await iam.deleteRolePolicy({ RoleName: 'agentkeys-vault-role-test', PolicyName: 'too-wide' });
    }
  });

  it('a detached audit grant: grants.audit-sign and the witness write fail, naming the setup step that puts it back', async () => {
    const iam = new IAM(region);
    const policy = await iam.getRolePolicy({
      RoleName: 'agentkeys-broker-host-test',
      PolicyName: 'agentkeys-audit-sign-test',
    });
    await iam.deleteRolePolicy({ RoleName: 'agentkeys-broker-host-test', PolicyName: 'agentkeys-audit-sign-test' });
    try {
      const r = await doctor();
      expect(r.code).toBe(1);
      expect(r.failed.map((c) => c.id)).toEqual(['grants.audit-sign', 'witness']);
      expect(r.failed[0]!.detail).toMatch(/agentkeys-broker-host-test may not kms:Sign/);
      expect(r.failed[1]!.detail).toMatch(/agentkeys-broker-host-test may not s3:PutObject/);
      for (const f of r.failed) expect(f.fix).toBe('agentkeys setup --test --only-step audit-signing-grant');
    } finally {
      await iam.putRolePolicy({
        RoleName: 'agentkeys-broker-host-test',
        PolicyName: 'agentkeys-audit-sign-test',
        PolicyDocument: decodeURIComponent(policy.PolicyDocument!),
      });
    }
  });

  it('a signer that may delete witnessed versions: the witness check fails, naming the action', async () => {
    const iam = new IAM(region);
    // moto's simulator evaluates identity policies without conditions (named in the launcher).
    await iam.putRolePolicy({
      RoleName: 'agentkeys-broker-host-test',
      PolicyName: 'legacy-witness-admin',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['s3:DeleteObjectVersion', 's3:PutObjectRetention'],
            Resource: 'arn:aws:s3:::agentkeys-witness-test-123456789012/*',
          },
        ],
      }),
    });
    try {
      const r = await doctor();
      expect(r.code).toBe(1);
      const witness = r.failed.find((c) => c.id === 'witness')!;
      expect(witness.detail).toMatch(/may s3:DeleteObjectVersion, s3:PutObjectRetention/);
    } finally {
      await iam.deleteRolePolicy({ RoleName: 'agentkeys-broker-host-test', PolicyName: 'legacy-witness-admin' });
    }
  });

  it('a disabled audit key: kms.audit-key fails with the enable-key command; what needs it is skipped', async () => {
    const kms = createKmsApi(region).client;
    const meta = (await kms.describeKey({ KeyId: 'alias/agentkeys-audit-test' })).KeyMetadata!;
    const arn = meta.Arn!;
    // moto deviation: DisableKey and EnableKey take the key id only (an ARN is a KeyError, HTTP 500).
    await kms.disableKey({ KeyId: meta.KeyId });
    try {
      const r = await doctor();
      expect(r.failed.map((c) => c.id)).toEqual(['kms.audit-key']);
      expect(r.failed[0]!.fix).toBe(`aws kms enable-key --key-id ${arn}`);
      expect(r.out.checks.find((c) => c.id === 'grants.audit-sign')).toMatchObject({ status: 'skip' });
    } finally {
      await kms.enableKey({ KeyId: meta.KeyId });
    }
  });

  it('a deleted A record: dns.records fails naming that host', async () => {
    const r53 = new Route53(region);
    const host = 'test-mcp.litentry.org.';
    const sets = await r53.listResourceRecordSets({ HostedZoneId: files.zoneId });
    const record = sets.ResourceRecordSets!.find((s) => s.Name === host && s.Type === 'A')!;
    const change = (Action: 'DELETE' | 'CREATE') =>
      r53.changeResourceRecordSets({
        HostedZoneId: files.zoneId,
        ChangeBatch: { Changes: [{ Action, ResourceRecordSet: record }] },
      });
    await change('DELETE');
    try {
      const r = await doctor();
      expect(r.failed.map((c) => c.id)).toEqual(['dns.records']);
      expect(r.failed[0]!.detail).toMatch(/^test-mcp\.litentry\.org: NXDOMAIN/);
      expect(r.failed[0]!.fix).toBe('agentkeys setup --test --only-step dns');
    } finally {
      await change('CREATE');
    }
  });

  it('shows DATABASE_URL without its password, in normal and --json output (issue 23)', async () => {
    const mark = 'Dr-s3cret';
    for (const url of [
      `postgres://agentkeys:pw@${mark}@127.0.0.1:1/agentkeys`,
      `postgres://agentkeys@127.0.0.1:1/agentkeys?password=${mark}`,
    ]) {
      const json = await runCli(['--json', 'doctor', '--test'], { cwd: files.cwd, env: { ...env, DATABASE_URL: url } });
      const human = await runCli(['doctor', '--test'], { cwd: files.cwd, env: { ...env, DATABASE_URL: url } });
      for (const r of [json, human]) {
        expect(r.stdout + r.stderr).toContain('127.0.0.1:1');
        expect(r.stdout + r.stderr).not.toContain(mark);
      }
    }
  }, 60_000);

  it('Postgres down, Redis refusing the password, a mismatched JWT pair: each names its own check', async () => {
    const down = await doctor({ DATABASE_URL: 'postgres://agentkeys@127.0.0.1:1/agentkeys' });
    expect(down.failed.map((c) => c.id)).toEqual(['agentidp.database']);
    expect(down.failed[0]!.fix).toMatch(/start PostgreSQL/);
    const redisUrl = redis.url.replace('s3cret', 'wrong');
    const badRedis = await doctor({ REDIS_URL: redisUrl });
    expect(badRedis.failed.map((c) => c.id)).toEqual(['agentidp.redis']);
    expect(badRedis.failed[0]!.detail).toContain('redis://:***@');
    const jwt = await doctor({ JWT_PUBLIC_KEY: pair().JWT_PUBLIC_KEY });
    expect(jwt.failed.map((c) => c.id)).toEqual(['agentidp.jwt']);
    expect(jwt.failed[0]!.detail).toBe('JWT_PUBLIC_KEY is not the public half of JWT_PRIVATE_KEY');
  });

  it('an issuer that names itself differently, or serves no keys: the OIDC check that sees it fails', async () => {
    issuer.state.issuer = `${issuer.url}/`;
    try {
      const r = await doctor();
      expect(r.failed.map((c) => c.id)).toEqual(['oidc.discovery']);
      expect(r.failed[0]!.detail).toMatch(/byte for byte/);
    } finally {
      delete issuer.state.issuer;
    }
    const keys = issuer.state.keys;
    issuer.state.keys = [];
    try {
      expect((await doctor()).failed.map((c) => c.id)).toEqual(['oidc.jwks']);
    } finally {
      issuer.state.keys = keys;
    }
    // The OIDC key broker setup made on the host (its public half fetched back): served, or a failure.
    const made = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const local = path.join(files.cwd, '.agentkeys', 'broker', 'test.oidc-jwks.json');
    mkdirSync(path.dirname(local), { recursive: true });
    writeFileSync(local, JSON.stringify({ keys: [{ ...made, kid: 'host-oidc', alg: 'RS256', use: 'sig' }] }));
    try {
      const missing = await doctor();
      expect(missing.failed.map((c) => c.id)).toEqual(['oidc.jwks']);
      expect(missing.failed[0]!.detail).toContain('does not serve the OIDC key generated on the host (host-oidc)');
      issuer.state.keys = [...keys, { ...made, kid: 'other-name', alg: 'RS256' }];
      expect((await doctor()).failed).toEqual([]);
    } finally {
      issuer.state.keys = keys;
      rmSync(local);
    }
  });

  it('--ci: REQUIRE_KMS=true passes with the KMS audit key and fails with a local key, one line each', async () => {
    const pass = await runCli(['doctor', '--ci'], {
      cwd: files.cwd,
      env: { ...env, REQUIRE_KMS: 'true', AUDIT_SIGNING_KMS_KEY_ID: 'alias/agentkeys-audit-test' },
    });
    expect(pass.code, pass.stderr).toBe(0);
    expect(pass.stdout).toMatch(/^PASS ci\.require-kms: signing key arn:aws:kms:/);
    expect(pass.stdout.trim().split('\n')).toHaveLength(1);
    const local = await runCli(['doctor', '--ci'], {
      cwd: files.cwd,
      env: { ...env, REQUIRE_KMS: 'true', AUDIT_SIGNING_KEY_PATH: '/tmp/nope.pem' },
    });
    expect(local.code).toBe(1);
    expect(local.stdout).toMatch(/^FAIL ci\.require-kms: LOCAL_KEY_REFUSED/);
    const badPolicy = await runCli(['--json', 'doctor', '--ci', '--interval-days', 'soon'], { cwd: files.cwd, env });
    expect([badPolicy.code, JSON.parse(badPolicy.stdout).error.code]).toEqual([2, 'FLAG_INVALID']);
    const off = await runCli(['doctor', '--ci'], { cwd: files.cwd, env });
    expect(off.stdout).toMatch(/^FAIL ci\.require-kms: REQUIRE_KMS is not true/);
  });
});
