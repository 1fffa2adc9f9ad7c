// agentkeys broker render, checked by the real tools that will read the files on the host:
// systemd-analyze verify (every unit, against stub binaries in a scratch bin dir), nginx -t
// (Debian's nginx: Phase A as rendered, Phase B with a certificate per host made by openssl) and
// sshd -t (Debian's openssh-server, the Instance Connect drop-in included). Each validator is
// also shown to reject a broken file, so a pass means something.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { startIssuer } from '../helpers/tls-issuer.js';

const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });
// nginx and sshd live in /usr/sbin, which a non-root PATH may lack.
const which = (tool: string) =>
  run('sh', ['-c', `command -v ${tool}`]).stdout.trim() || (existsSync(`/usr/sbin/${tool}`) ? `/usr/sbin/${tool}` : '');

beforeAll(() => {
  // Fail loudly, never skip: .ci/run installs these Debian packages.
  for (const tool of ['systemd-analyze', 'nginx', 'sshd', 'openssl', 'ssh-keygen'])
    expect(which(tool) || `${tool} missing: apt-get install -y nginx openssh-server`).toMatch(/^\//);
});

async function rendered(extra: string[] = []) {
  const dir = tempDir();
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const r = await runCli(
    [
      '--json',
      'broker',
      'render',
      '--test',
      '--out',
      path.join(dir, 'host'),
      '--bin-dir',
      bin,
      '--agentkeys-bin',
      path.join(bin, 'agentkeys'),
      ...extra,
    ],
    {
      cwd: process.cwd(),
    },
  );
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { files: { path: string; written: boolean }[] };
  const units = out.files.map((f) => f.path).filter((p) => /\.(service|timer)$/.test(p));
  for (const unit of units.filter((u) => u.endsWith('.service'))) {
    const binary = /ExecStart=(\S+)/.exec(readFileSync(path.join(dir, 'host', unit), 'utf8'))![1]!;
    writeFileSync(binary, '#!/bin/sh\n');
    chmodSync(binary, 0o755);
  }
  return { dir, host: path.join(dir, 'host'), out, units };
}

/** A self-signed certificate where certbot keeps one: DIR/privkey.pem and DIR/fullchain.pem. */
function selfSigned(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  const pem = (f: string) => path.join(dir, f);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      pem('privkey.pem'),
      '-out',
      pem('fullchain.pem'),
    ].concat(['-days', '1', '-subj', `/CN=${name}`]),
    { stdio: 'pipe' },
  );
  return dir;
}

function nginxTest(dir: string, phase: 'a' | 'b') {
  const conf = path.join(dir, `nginx-${phase}.conf`);
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  writeFileSync(
    conf,
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/logs/error.log;\nevents {}\n` +
      `http { include ${dir}/host/etc/nginx/agentkeys/phase-${phase}/*.conf; }\n`,
  );
  return run(which('nginx'), ['-t', '-c', conf, '-p', dir]);
}

describe('agentkeys broker render', () => {
  it('writes one unit per service, Phase A and B per host, the sshd drop-in and a 0600 broker.env; a second run writes nothing', async () => {
    const { dir, out, units } = await rendered();
    // broker, signer, MCP and six workers; four watches with their timers; the alert template
    expect(units).toHaveLength(9 + 4 * 2 + 1);
    // + sshd drop-in, broker.env, watch.env, stack.env, certbot's deploy hook, 6 worker env files
    expect(out.files).toHaveLength(9 * 3 + 4 * 2 + 1 + 5 + 6);
    expect(statSync(path.join(dir, 'host/etc/agentkeys/broker.env')).mode & 0o777).toBe(0o600);
    // The scheduled proofs: each watch runs agentkeys as the agentkeys user and alerts on failure.
    const watch = (id: string) =>
      readFileSync(path.join(dir, `host/etc/systemd/system/agentkeys-watch-${id}.service`), 'utf8');
    expect(watch('verify')).toMatch(
      /ExecStart=\S+\/agentkeys --settings \/etc\/agentkeys\/watch\.env verify-audit --log \/var\/lib\/agentkeys\/audit\.jsonl --witness s3:\/\/agentkeys-witness-test-\d{12}\/audit\n/,
    );
    expect(watch('rotation')).toContain('keys should-rotate --key kms:alias/agentkeys-audit-test --fail-if-due');
    expect(watch('probe')).toContain('--connect-to 127.0.0.1:443 --cert-dir /etc/letsencrypt/live');
    for (const id of ['verify', 'rotation', 'probe', 'doctor'])
      expect(watch(id)).toMatch(/OnFailure=agentkeys-alert@%n\.service[\s\S]*Type=oneshot[\s\S]*User=agentkeys/);
    expect(readFileSync(path.join(dir, 'host/etc/systemd/system/agentkeys-watch-probe.timer'), 'utf8')).toContain(
      'OnCalendar=*:0/15',
    );
    // The alert target (a webhook URL may carry its token) stays in broker.env (0600): never in the
    // 0644 unit file nor on a command line.
    const alertUnit = readFileSync(path.join(dir, 'host/etc/systemd/system/agentkeys-alert@.service'), 'utf8');
    expect(alertUnit).toContain('EnvironmentFile=/etc/agentkeys/broker.env');
    expect(alertUnit).toMatch(/ExecStart=\S+ --settings \S+ alert --unit %i\n/);
    expect(alertUnit).not.toContain('arn:aws:sns');
    const hook = path.join(dir, 'host/etc/letsencrypt/renewal-hooks/deploy/agentkeys-reload-nginx');
    expect(statSync(hook).mode & 0o777).toBe(0o755);
    expect(readFileSync(hook, 'utf8')).toMatch(/nginx -t -q\nsystemctl reload nginx\n$/);
    const env = readFileSync(path.join(dir, 'host/etc/agentkeys/broker.env'), 'utf8');
    expect(env).toContain('BROKER_HOST="test-broker.litentry.org"');
    // All nine settings the broker reads, from the shipped broker.test.env or upstream's defaults.
    const settings = Object.fromEntries([...env.matchAll(/^(BROKER_[A-Z_]+)="(.*)"$/gm)].map((m) => [m[1], m[2]]));
    expect(settings).toMatchObject({
      BROKER_DATA_ROLE_ARN: expect.stringMatching(/^arn:aws:iam::\d{12}:role\/agentkeys-data-role-test$/),
      BROKER_AWS_REGION: 'us-east-1',
      BROKER_OIDC_ISSUER: 'https://test-broker.litentry.org',
      BROKER_OIDC_KEYPAIR_PATH: '/var/lib/agentkeys/keys/oidc-keypair.json',
      BROKER_SESSION_KEYPAIR_PATH: '/var/lib/agentkeys/keys/session-keypair.json',
      BROKER_AUTH_METHODS: 'wallet_sig,email_link',
      BROKER_AUDIT_ANCHORS: 'sqlite',
      BROKER_EMAIL_SENDER: 'ses',
      BROKER_EMAIL_FROM_ADDRESS: 'noreply-test@bots-test.litentry.org',
    });
    // Each worker reads broker.env, then its own file: the master secret's path, never its value.
    const cred = readFileSync(path.join(dir, 'host/etc/systemd/system/agentkeys-worker-cred.service'), 'utf8');
    expect(cred).toContain(
      'EnvironmentFile=/etc/agentkeys/broker.env\nEnvironmentFile=/etc/agentkeys/worker-cred.env\n',
    );
    const credEnv = readFileSync(path.join(dir, 'host/etc/agentkeys/worker-cred.env'), 'utf8');
    expect(credEnv).toContain('DEV_KEY_SERVICE_MASTER_SECRET_FILE="/var/lib/agentkeys/dev_key_service/master-secret"');
    expect(credEnv).toMatch(/DATA_BUCKET="agentkeys-vault-test-\d{12}"/);
    const again = await runCli(
      [
        '--json',
        'broker',
        'render',
        '--test',
        '--out',
        path.join(dir, 'host'),
        '--bin-dir',
        path.join(dir, 'bin'),
        '--agentkeys-bin',
        path.join(dir, 'bin', 'agentkeys'),
      ],
      {
        cwd: process.cwd(),
      },
    );
    expect(JSON.parse(again.stdout).files.filter((f: { written: boolean }) => f.written)).toEqual([]);
  });

  it('every systemd unit passes systemd-analyze verify; a unit whose binary is missing does not', async () => {
    const { dir, host, units } = await rendered();
    const verify = run('systemd-analyze', ['verify', ...units.map((u) => path.join(host, u))]);
    expect(verify.status, verify.stderr).toBe(0);
    const broken = path.join(dir, 'broken.service');
    writeFileSync(
      broken,
      readFileSync(path.join(host, units[0]!), 'utf8').replace(/ExecStart=\S+/, 'ExecStart=/nonexistent/x'),
    );
    expect(run('systemd-analyze', ['verify', broken]).status).not.toBe(0);
  });

  it('nginx -t accepts Phase A as rendered and Phase B once each host has a certificate', async () => {
    const certs = tempDir();
    const { dir } = await rendered(['--cert-dir', certs]);
    expect(nginxTest(dir, 'a').status, nginxTest(dir, 'a').stderr).toBe(0);
    // Without certificates Phase B must fail: that is why setup renders Phase A first.
    expect(nginxTest(dir, 'b').status).not.toBe(0);
    const one = selfSigned(path.join(certs, 'one'), 'agentkeys-test');
    for (const conf of readdirSync(path.join(dir, 'host/etc/nginx/agentkeys/phase-b')))
      cpSync(one, path.join(certs, conf.replace(/\.conf$/, '')), { recursive: true });
    const b = nginxTest(dir, 'b');
    expect(b.status, b.stderr).toBe(0);
  });

  it('sshd -t accepts the Instance Connect drop-in; a relative AuthorizedKeysCommand is refused', async () => {
    const { dir } = await rendered();
    mkdirSync('/run/sshd', { recursive: true }); // sshd -t wants its privilege separation directory
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'hostkey')]);
    const config = (include: string) => {
      const file = path.join(dir, `sshd_config.${path.basename(include)}`);
      writeFileSync(file, `HostKey ${dir}/hostkey\nPidFile ${dir}/sshd.pid\nInclude ${include}\n`);
      return file;
    };
    const ok = run(which('sshd'), [
      '-t',
      '-f',
      config(path.join(dir, 'host/etc/ssh/sshd_config.d/60-agentkeys-instance-connect.conf')),
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    writeFileSync(path.join(dir, 'bad.conf'), 'AuthorizedKeysCommand relative/path %u\n');
    expect(run(which('sshd'), ['-t', '-f', config(path.join(dir, 'bad.conf'))]).status).not.toBe(0);
  });
});

describe('agentkeys broker probe', () => {
  it("checks every hostname's TLS and /healthz, the issuer and JWKS; --connect-to reaches them at one address", async () => {
    const names = [
      'test-broker.litentry.org',
      'signer-test.litentry.org',
      'test-mcp.litentry.org',
      ...['audit', 'email', 'cred', 'memory', 'config', 'classify'].map((w) => `${w}-test.litentry.org`),
    ];
    const server = await startIssuer(names);
    server.state.issuer = 'https://test-broker.litentry.org';
    const probe = async (extra: string[] = []) => {
      const r = await runCli(
        ['--json', 'broker', 'probe', '--test', '--connect-to', `127.0.0.1:${new URL(server.url).port}`, ...extra],
        {
          cwd: process.cwd(),
          env: { NODE_EXTRA_CA_CERTS: server.caFile },
        },
      );
      return {
        code: r.code,
        checks: (JSON.parse(r.stdout) as { checks: { id: string; status: string; detail: string }[] }).checks,
      };
    };
    try {
      const healthy = await probe();
      expect(healthy.checks.filter((c) => c.status !== 'ok')).toEqual([]);
      expect(healthy.code).toBe(0);
      expect(healthy.checks.map((c) => c.id)).toContain('probe.worker-classify');
      server.state.unhealthy.push('memory-test.litentry.org');
      const sick = await probe();
      expect(sick.code).toBe(1);
      expect(sick.checks.filter((c) => c.status === 'fail').map((c) => [c.id, c.detail])).toEqual([
        ['probe.worker-memory', 'https://memory-test.litentry.org/healthz answered 503'],
      ]);
      // On the host (the probe watch): certbot renewed the broker's certificate, nginx still serves
      // the old one (no reload). The served certificate is compared with the newest on disk.
      const live = tempDir();
      selfSigned(path.join(live, 'test-broker.litentry.org'), 'test-broker.litentry.org');
      const stale = await probe(['--cert-dir', live]);
      expect(stale.checks.find((c) => c.id === 'probe.broker')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining("but certbot's newest is"),
      });
    } finally {
      await server.close();
    }
    const bad = await runCli(['--json', 'broker', 'probe', '--test', '--connect-to', 'nope'], { cwd: process.cwd() });
    expect([bad.code, JSON.parse(bad.stdout).error.code]).toEqual([2, 'FLAG_INVALID']);
  });
});
