// agentkeys broker setup against a real sshd on loopback (test/helpers/sshd.ts names the three
// stubbed tools and why), with the steps under a scratch root on it (--host-root). Public DNS is
// a DNS-over-HTTPS endpoint on loopback (a real HTTPS server the CLI trusts via
// NODE_EXTRA_CA_CERTS), answering per hostname what the test says.
import {
  chmodSync,
  cpSync,
  readdirSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerServices } from '../../src/broker/render.js';
import { loadStack } from '../../src/config/stack.js';
import { CLI, runCli } from '../helpers/cli.js';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
import { startWebhook, type Webhook } from '../helpers/webhook.js';
import { useMoto } from '../helpers/moto.js';
import { createSnsApi } from '../../src/aws/sns.js';
import { createServiceContext } from '../../src/aws/service.js';
import { freePortBase } from '../helpers/net.js';
import { hostBrokerEnv, startTestHost, writeServiceBinary, type TestHost } from '../helpers/sshd.js';
import { tempDir } from '../helpers/tmp.js';
import { startIssuer, type Issuer } from '../helpers/tls-issuer.js';

interface StepOut {
  num: number;
  id: string;
  status: string;
  changes: { action: string; resource: string; diff?: string }[];
  reason?: string;
  error?: { code: string };
}

const moto = useMoto();
let host: TestHost;
let doh: Issuer;
let cwd: string;
let hosts: string[];
let portBase: number;
let alerts: Webhook;

beforeAll(async () => {
  [host, doh] = await Promise.all([startTestHost(), startIssuer()]);
  cwd = mkdtempSync(path.join(tmpdir(), 'agentkeys-broker-setup-')); // tempDir() goes after each test
  mkdirSync(path.join(cwd, 'env'));
  cpSync('env/operator-workstation.test.env', path.join(cwd, 'env/operator-workstation.test.env'));
  // The watches run the agentkeys CLI on the host (this build) and alert a local webhook.
  alerts = await startWebhook();
  const agentkeysBin = onHost('usr/local/bin/agentkeys');
  mkdirSync(path.dirname(agentkeysBin), { recursive: true });
  writeFileSync(agentkeysBin, `#!/bin/sh\nexec ${process.execPath} -- ${CLI} "$@"\n`, { mode: 0o755 });
  writeFileSync(
    path.join(cwd, 'env/broker.test.env'),
    `${hostBrokerEnv(host)}AGENTKEYS_BIN=${agentkeysBin}\nALERT_TARGET=webhook:${alerts.url}/alert\n` +
      `AUDIT_LOG=${onHost('var/lib/agentkeys/audit.jsonl')}\n`,
  );
  const stack = await loadStack({ test: true, envDir: path.join(cwd, 'env') });
  hosts = brokerServices(stack).map((s) => s.host);
  // Every service's port free (the services listen on base + 0 … base + 26), not only the base.
  portBase = await freePortBase(brokerServices(stack).map((s) => s.port - brokerServices(stack)[0]!.port));
  // The prebuilt release step 4 uploads (--upload-bin): stand-ins that answer /healthz.
  for (const s of brokerServices(stack)) writeServiceBinary(path.join(cwd, 'release', s.binary));
  resolveOnly(hosts.slice(0, 2));
}, 60_000);

afterAll(async () => {
  await Promise.all([host?.close(), doh?.close(), alerts?.close()]);
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

/** DNS answers the EIP (127.0.0.1) for these hosts; the rest are NXDOMAIN. */
function resolveOnly(resolving: string[]): void {
  for (const h of hosts)
    doh.state.files[`/resolve?name=${h}&type=A`] = JSON.stringify(
      resolving.includes(h) ? { Status: 0, Answer: [{ name: `${h}.`, type: 1, data: '127.0.0.1' }] } : { Status: 3 },
    );
}

async function brokerSetup(extra: string[] = []) {
  const r = await runCli(
    [
      '--json',
      'broker',
      'setup',
      '--test',
      '--fallback',
      '--pem',
      host.keyFile,
      '--os-user',
      host.user,
      '--host-root',
      host.root,
      '--port-base',
      String(portBase),
      '--doh-url',
      `${doh.url}/resolve`,
      ...extra,
    ],
    { cwd, env: { AGENTKEYS_DIR: path.join(cwd, '.agentkeys'), NODE_EXTRA_CA_CERTS: doh.caFile } },
  );
  const out = r.stdout
    ? (JSON.parse(r.stdout) as { steps?: StepOut[]; sshRoundTrips?: number; error?: { code: string } })
    : {};
  return { ...r, out, steps: out.steps ?? [], step: (id: string) => out.steps!.find((s) => s.id === id)! };
}

const onHost = (rel: string) => path.join(host.root, rel);
const stackOf = () => loadStack({ test: true, envDir: path.join(cwd, 'env') });

/**
 * The keypairs step's work: two pairs on the host (0600, private halves valid and matching their
 * public files), the OIDC JWKS here with the public key only, and no private key in the output.
 */
function expectKeysOnHost(stdout: string): void {
  for (const [name, type] of [
    ['oidc', 'rsa'],
    ['session', 'ec'],
  ] as const) {
    const file = onHost(`var/lib/agentkeys/keys/${name}-keypair.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const pair = JSON.parse(readFileSync(file, 'utf8')) as { private_key_pem: string; public_key_pem: string };
    const key = createPrivateKey(pair.private_key_pem);
    expect(key.asymmetricKeyType).toBe(type);
    expect(createPublicKey(key).export({ type: 'spki', format: 'pem' })).toBe(readFileSync(`${file}.pub.pem`, 'utf8'));
  }
  const jwks = JSON.parse(readFileSync(path.join(cwd, '.agentkeys/broker/test.oidc-jwks.json'), 'utf8'));
  expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'RSA', alg: 'RS256', kid: expect.any(String) })]);
  expect(jwks.keys[0]).not.toHaveProperty('d');
  expect(stdout).not.toContain('PRIVATE KEY');
  // No temp copy of a key or the secret is left beside them.
  expect(readdirSync(onHost('var/lib/agentkeys/keys')).sort()).toEqual([
    'oidc-keypair.json',
    'oidc-keypair.json.pub.pem',
    'session-keypair.json',
    'session-keypair.json.pub.pem',
  ]);
  expect(readdirSync(onHost('var/lib/agentkeys/dev_key_service'))).toEqual(['master-secret']);
  const secret = onHost('var/lib/agentkeys/dev_key_service/master-secret');
  expect(statSync(secret).mode & 0o777).toBe(0o600);
  expect(Buffer.from(readFileSync(secret, 'utf8').trim(), 'base64')).toHaveLength(32);
}
/** ssh to the test host as its user, with no host-key prompt. */
const sshArgs = () => [
  ...['-i', host.keyFile, '-p', String(host.port), '-o', 'StrictHostKeyChecking=no'],
  ...['-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `${host.user}@127.0.0.1`],
];

describe('agentkeys broker setup over SSH', () => {
  it('--plan on a fresh host lists every change, diffs included, and changes nothing (exit 4)', async () => {
    const r = await brokerSetup(['--plan', '--upload-bin', path.join(cwd, 'release')]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.steps.map((s) => s.id)).toEqual([
      'login-user',
      'instance-connect',
      'host-files',
      'binaries',
      'keypairs',
      'master-secret',
      'nginx-phase-a',
      'certificates',
      'nginx-phase-b',
      'services',
      'watch',
    ]);
    expect(r.step('login-user').changes.map((c) => c.resource)).toEqual([
      'user agentkey',
      'user agentkeys',
      '/etc/sudoers.d/90-agentkey',
    ]);
    const files = r.step('host-files').changes;
    // units, Phase A and B per host, broker.env; the watches, their timers, the alert unit, watch.env,
    // stack.env and certbot's deploy hook; the six workers' env files
    expect(files).toHaveLength(9 * 3 + 1 + 4 * 2 + 1 + 3 + 6);
    expect(r.step('binaries').changes).toHaveLength(9);
    expect(r.step('keypairs').changes.map((c) => c.action)).toEqual(['create', 'create', 'write']);
    expect(r.step('master-secret').changes).toHaveLength(1);
    // New files are listed with their size, not their whole content.
    expect(files.filter((c) => c.diff !== undefined)).toEqual([]);
    expect(files.find((c) => c.resource.endsWith('agentkeys-broker.service'))).toMatchObject({
      action: 'create',
      detail: '24 lines, mode 644',
    });
    expect(existsSync(onHost('etc/agentkeys/broker.env'))).toBe(false);
    expect(readFileSync(onHost('etc/passwd'), 'utf8')).not.toMatch(/^agentkey:/m);
  }, 60_000);

  it('a first run brings up what it can: users, Instance Connect, files, Phase A, certificates where DNS points, Phase B, healthy services', async () => {
    const r = await brokerSetup(['--upload-bin', path.join(cwd, 'release')]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const status = Object.fromEntries(r.steps.map((s) => [s.id, s.status]));
    expect(status).toEqual({
      'login-user': 'done',
      'instance-connect': 'done',
      'host-files': 'done',
      binaries: 'done',
      keypairs: 'done',
      'master-secret': 'done',
      'nginx-phase-a': 'done',
      certificates: 'waiting',
      'nginx-phase-b': 'done',
      services: 'done',
      watch: 'done',
    });
    // Real useradd under --prefix, a sudoers file visudo accepts, sshd -t on the drop-in.
    expect(readFileSync(onHost('etc/passwd'), 'utf8')).toMatch(/^agentkey:.*:\/home\/agentkey:\/bin\/bash$/m);
    expect(readFileSync(onHost('etc/group'), 'utf8')).toMatch(/^sudo:.*agentkey/m);
    expect(statSync(onHost('etc/sudoers.d/90-agentkey')).mode & 0o777).toBe(0o440);
    expect(readFileSync(onHost('etc/ssh/sshd_config.d/60-agentkeys-instance-connect.conf'), 'utf8')).toContain(
      `AuthorizedKeysCommand ${host.root}/usr/share/ec2-instance-connect/eic_run_authorized_keys %u %f`,
    );
    expect(host.log('apt.log')).toContain('ec2-instance-connect');
    expect(statSync(onHost('etc/agentkeys/broker.env')).mode & 0o777).toBe(0o600);
    // Certificates for the two hosts DNS points at; the other seven wait, named with the reason.
    expect(r.step('certificates').changes.map((c) => c.resource)).toEqual(
      hosts.slice(0, 2).map((h) => `certificate ${h}`),
    );
    expect(r.step('certificates').reason).toMatch(/7 host\(s\) do not resolve to 127\.0\.0\.1 yet/);
    expect(r.step('certificates').reason).toContain(`${hosts[2]}: NXDOMAIN`);
    const link = (h: string) => readlinkSync(onHost(`etc/nginx/sites-enabled/agentkeys-${h}.conf`));
    expect(link(hosts[0]!)).toBe(onHost(`etc/nginx/agentkeys/phase-b/${hosts[0]}.conf`));
    expect(link(hosts[2]!)).toBe(onHost(`etc/nginx/agentkeys/phase-a/${hosts[2]}.conf`));
    expect(host.log('systemctl.log')).toMatch(/reload-or-restart nginx/);
    expect(r.step('services').changes).toHaveLength(9);
    // The binaries as uploaded, byte for byte; the keys and the secret made on the host.
    for (const s of brokerServices(await stackOf()))
      expect(readFileSync(onHost(`opt/agentkeys/bin/${s.binary}`))).toEqual(
        readFileSync(path.join(cwd, 'release', s.binary)),
      );
    expectKeysOnHost(r.stdout);
    expect(r.step('watch').changes.map((c) => c.resource)).toEqual(
      ['verify', 'rotation', 'probe', 'doctor'].map((id) => `agentkeys-watch-${id}.timer`),
    );
  }, 120_000);

  it('a failing watch alerts: its service fails on the host and the webhook gets the unit and its last lines', async () => {
    // systemd starts a watch's service on its timer; here the test starts it (the stub runs the
    // oneshot and, as it failed, agentkeys-alert@ for it). The audit log does not exist yet.
    // Asynchronously: the webhook answers from this process's event loop.
    const r = await execFileAsync('ssh', [...sshArgs(), 'systemctl start agentkeys-watch-verify.service']).then(
      () => ({ status: 0 }),
      (err: { code?: number }) => ({ status: err.code ?? -1 }),
    );
    expect(r.status).not.toBe(0);
    expect(alerts.received).toHaveLength(1);
    const alert = JSON.parse(alerts.received[0]!.body) as { unit: string; subject: string; text: string };
    expect(alerts.received[0]!.path).toBe('/alert');
    expect(alert.unit).toBe('agentkeys-watch-verify.service');
    expect(alert.subject).toMatch(/^agentkeys: agentkeys-watch-verify\.service failed on /);
    // What verify-audit said, from the journal (here: the host has no AWS credentials for the witness).
    expect(alert.text).toMatch(/✖ .*\[[A-Z_]+\]/);
  }, 60_000);

  it('a second run changes nothing', async () => {
    const r = await brokerSetup();
    expect(r.code, r.stderr).toBe(0);
    expect(r.steps.flatMap((s) => s.changes)).toEqual([]);
    expect(r.step('certificates').status).toBe('waiting');
    expect(r.out.sshRoundTrips).toBe(11); // one per step: a check asks all it needs at once
  }, 60_000);

  it('the keypairs and the master secret are never replaced; a secret agentkeys did not write blocks, untouched', async () => {
    const secret = onHost('var/lib/agentkeys/dev_key_service/master-secret');
    const oidc = onHost('var/lib/agentkeys/keys/oidc-keypair.json');
    const [secretBefore, oidcBefore] = [readFileSync(secret), readFileSync(oidc)];
    // A lost public half comes back from the key; a key left world-readable is closed again.
    rmSync(`${oidc}.pub.pem`);
    execFileSync('chmod', ['644', oidc]);
    const r = await brokerSetup(['--only-step', 'keypairs']);
    expect(r.step('keypairs')).toMatchObject({ status: 'done' });
    expect(r.step('keypairs').changes.map((c) => c.action)).toEqual(['create', 'update', 'write']);
    const again = await brokerSetup(['--only-step', 'keypairs']);
    expect(again.step('keypairs').changes).toEqual([]);
    expect(readFileSync(oidc)).toEqual(oidcBefore);
    expectKeysOnHost(again.stdout);
    // Something else at the secret's path: named, never overwritten.
    writeFileSync(secret, 'not-the-secret\n', { mode: 0o600 });
    const blocked = await brokerSetup(['--only-step', 'master-secret']);
    expect(blocked.step('master-secret')).toMatchObject({ status: 'blocked' });
    expect(blocked.step('master-secret').reason).toMatch(/never overwritten.*every wallet/);
    expect(readFileSync(secret, 'utf8')).toBe('not-the-secret\n');
    writeFileSync(secret, secretBefore);
    chmodSync(secret, 0o640);
    const mode = await brokerSetup(['--only-step', 'master-secret']);
    expect(mode.step('master-secret').changes.map((c) => c.action)).toEqual(['update']);
    expect(readFileSync(secret)).toEqual(secretBefore);
    expect(statSync(secret).mode & 0o777).toBe(0o600);
  }, 60_000);

  it('built on the host at a pinned commit: detached, waited for, installed by checksum; a failed build is named', async () => {
    const stack = await stackOf();
    const repo = path.join(cwd, 'upstream');
    mkdirSync(repo);
    // A stand-in for the upstream workspace: its "build" writes each service binary with a marker.
    const build = (marker: string, fail = false) =>
      `set -e\nsleep 1\n${fail ? 'echo "error[E0425]: cannot find value" >&2; exit 101\n' : ''}` +
      'mkdir -p target/release\n' +
      brokerServices(stack)
        .map((s) => `cp bin/stub target/release/${s.binary}; echo '// ${marker}' >> target/release/${s.binary}`)
        .join('\n') +
      '\n';
    mkdirSync(path.join(repo, 'bin'));
    cpSync(path.join(cwd, 'release', 'agentkeys-broker-server'), path.join(repo, 'bin/stub'));
    writeFileSync(path.join(repo, 'build.sh'), build('v1'));
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
    git('init', '-q');
    git('-c', 'user.email=t@x', '-c', 'user.name=t', 'add', '.');
    git('-c', 'user.email=t@x', '-c', 'user.name=t', 'commit', '-q', '-m', 'v1');
    const v1 = git('rev-parse', 'HEAD');
    const flags = (ref: string) => [
      '--repo',
      repo,
      '--build-ref',
      ref,
      '--build-command',
      'sh build.sh',
      '--wait',
      '20',
    ];
    const r = await brokerSetup(['--only-step', 'binaries', ...flags(v1)]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.step('binaries')).toMatchObject({
      status: 'done',
      changes: [{ resource: `build ${v1}` }],
    });
    const installed = readFileSync(onHost('opt/agentkeys/bin/agentkeys-worker-audit'), 'utf8');
    expect(installed).toContain('// v1');
    const stamp = JSON.parse(readFileSync(onHost('opt/agentkeys/bin/.agentkeys-release.json'), 'utf8'));
    expect(stamp).toMatchObject({ source: 'build', ref: v1 });
    expect(Object.keys(stamp.sha256)).toHaveLength(9);
    expect((await brokerSetup(['--only-step', 'binaries', ...flags(v1)])).step('binaries').changes).toEqual([]);
    // A commit whose build fails: this run's error, with the build's last words; v1 stays installed.
    writeFileSync(path.join(repo, 'build.sh'), build('v2', true));
    git('-c', 'user.email=t@x', '-c', 'user.name=t', 'commit', '-q', '-am', 'v2');
    const failed = await brokerSetup(['--only-step', 'binaries', ...flags(git('rev-parse', 'HEAD'))]);
    expect(failed.code).toBe(1);
    expect(failed.step('binaries')).toMatchObject({ status: 'failed', error: { code: 'HOST_BUILD_FAILED' } });
    expect(JSON.stringify(failed.step('binaries'))).toContain('cannot find value');
    expect(readFileSync(onHost('opt/agentkeys/bin/agentkeys-worker-audit'), 'utf8')).toBe(installed);
    // A branch name is not a pin.
    expect(JSON.parse((await brokerSetup(['--plan', ...flags('main')])).stdout).error.code).toBe('FLAG_INVALID');
    // Back to the release the other tests run.
    expect((await brokerSetup(['--only-step', 'binaries', '--upload-bin', path.join(cwd, 'release')])).code).toBe(0);
  }, 120_000);

  it('a host file changed on the host shows as a diff in --plan (secrets redacted); the run restores it and restarts', async () => {
    const unit = onHost('etc/systemd/system/agentkeys-signer.service');
    writeFileSync(unit, readFileSync(unit, 'utf8').replace('RestartSec=2', 'RestartSec=30'));
    const plan = await brokerSetup(['--plan', '--only-step', 'host-files']);
    expect(plan.code).toBe(4);
    const diff = plan.step('host-files').changes[0]!;
    expect(diff.resource).toBe('/etc/systemd/system/agentkeys-signer.service');
    expect(diff.diff).toMatch(/-RestartSec=30\n\+RestartSec=2/);
    // broker.env (0600): a changed value shows as a changed line, never the value itself.
    const envFile = onHost('etc/agentkeys/broker.env');
    const envText = readFileSync(envFile, 'utf8');
    writeFileSync(envFile, envText.replace('ACME_EMAIL="ops@example.com"', 'ACME_EMAIL="old@example.com"'), {
      mode: 0o600,
    });
    const envDiff = (await brokerSetup(['--plan', '--only-step', 'host-files'])).step('host-files').changes[1]!;
    expect(envDiff.diff).toMatch(/-ACME_EMAIL=<redacted>\n\+ACME_EMAIL=<redacted, changed>/);
    expect(envDiff.diff).not.toMatch(/example\.com/);
    writeFileSync(envFile, envText, { mode: 0o600 });
    const log = host.log('systemctl.log').length;
    const r = await brokerSetup();
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(unit, 'utf8')).toContain('RestartSec=2\n');
    expect(r.step('services').changes).toEqual([
      expect.objectContaining({ action: 'update', resource: 'agentkeys-signer.service' }),
    ]);
    expect(host.log('systemctl.log').slice(log)).toMatch(/daemon-reload[\s\S]*restart agentkeys-signer\.service/);
  }, 60_000);

  it('nginx -t refusing the change undoes it: the links stay as they were (HOST_CONFIG_INVALID)', async () => {
    const conf = onHost('etc/nginx/nginx.conf');
    const good = readFileSync(conf, 'utf8');
    resolveOnly(hosts.slice(0, 3));
    writeFileSync(conf, good.replace('events {}', 'events { bogus_directive on; }'));
    // The certificate comes, but Phase B for it is refused and undone.
    const r = await brokerSetup();
    writeFileSync(conf, good);
    expect(r.code).toBe(1);
    expect(r.step('nginx-phase-b')).toMatchObject({ status: 'failed', error: { code: 'HOST_CONFIG_INVALID' } });
    expect(lstatSync(onHost(`etc/nginx/sites-enabled/agentkeys-${hosts[2]}.conf`)).isSymbolicLink()).toBe(true);
    expect(readlinkSync(onHost(`etc/nginx/sites-enabled/agentkeys-${hosts[2]}.conf`))).toBe(
      onHost(`etc/nginx/agentkeys/phase-a/${hosts[2]}.conf`),
    );
    expect(r.steps.map((s) => s.id)).not.toContain('services'); // a failed step stops the run
  }, 120_000);

  it('once DNS resolves for every host, --only-step certificates issues the rest and Phase B follows', async () => {
    resolveOnly(hosts);
    const certs = await brokerSetup(['--only-step', 'certificates']);
    expect(certs.code, certs.stderr).toBe(0);
    expect(certs.step('certificates')).toMatchObject({ status: 'done' });
    expect(certs.step('certificates').changes).toHaveLength(6);
    const r = await brokerSetup();
    expect(r.code, r.stderr).toBe(0);
    expect(r.step('nginx-phase-b').changes).toHaveLength(7);
    expect(r.steps.every((s) => s.status === 'done')).toBe(true);
    const again = await brokerSetup();
    expect(again.steps.flatMap((s) => s.changes)).toEqual([]);
    expect(host.log('certbot.log').match(/certonly/g)).toHaveLength(9);
  }, 120_000);

  it('names what is wrong before connecting: no EIP, a bad --port-base, a relative --host-root, an http --doh-url', async () => {
    const bad = tempDir();
    mkdirSync(path.join(bad, 'env'));
    cpSync('env/operator-workstation.test.env', path.join(bad, 'env/operator-workstation.test.env'));
    writeFileSync(path.join(bad, 'env/broker.test.env'), 'BROKER_AWS_REGION=us-east-1\n');
    const env = { AGENTKEYS_DIR: path.join(bad, '.agentkeys') };
    const noEip = await runCli(['--json', 'broker', 'setup', '--test', '--fallback', '--pem', host.keyFile], {
      cwd: bad,
      env,
    });
    expect(noEip.code).toBe(2);
    expect(JSON.parse(noEip.stdout).error.code).toBe('SSH_EIP_MISSING');
    const port = await runCli(['--json', 'broker', 'setup', '--test', '--port-base', '80'], { cwd: bad, env });
    expect(JSON.parse(port.stdout).error.code).toBe('FLAG_INVALID');
    const root = await runCli(['--json', 'broker', 'setup', '--test', '--host-root', 'srv'], { cwd: bad, env });
    expect(JSON.parse(root.stdout).error.code).toBe('FLAG_INVALID');
    const doh = await runCli(['--json', 'broker', 'setup', '--test', '--doh-url', 'http://8.8.8.8/resolve'], {
      cwd: bad,
      env,
    });
    expect(JSON.parse(doh.stdout).error.code).toBe('FLAG_INVALID');
  }, 60_000);

  it('the same watch with ALERT_TARGET=sns: the alert goes through SNS (moto) to its subscriber', async () => {
    // moto stands in for the instance profile's AWS: its endpoint and keys go into broker.env, the
    // alert unit's EnvironmentFile, as the instance's role would come from IMDS on EC2.
    const sns = createSnsApi(createServiceContext({ region: 'us-east-1' }));
    const topic = await sns.createTopic('agentkeys-alerts-test');
    await sns.subscribe(topic, 'http', `${alerts.url}/sns`);
    const before = alerts.received.length;
    const envFile = path.join(cwd, 'env/broker.test.env');
    writeFileSync(
      envFile,
      readFileSync(envFile, 'utf8').replace(/^ALERT_TARGET=.*$/m, `ALERT_TARGET=sns:${topic}`) +
        Object.entries(moto.current.env)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
    );
    expect((await brokerSetup(['--only-step', 'host-files'])).code).toBe(0);
    await execFileAsync('ssh', [...sshArgs(), 'systemctl start agentkeys-watch-verify.service']).catch(() => undefined);
    const delivered = alerts.received
      .slice(before)
      .map((m) => JSON.parse(m.body) as { Type?: string; Subject?: string; Message?: string })
      .find((m) => m.Type === 'Notification');
    expect(delivered?.Subject).toMatch(/^agentkeys: agentkeys-watch-verify\.service failed on /);
    expect(delivered?.Message).toMatch(/✖ .*\[[A-Z_]+\]/);
  }, 60_000);
});
