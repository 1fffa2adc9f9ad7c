// A throwaway broker host for `agentkeys broker setup`'s tests: Debian's real sshd on a high
// loopback port with its own host key, a client key for the test user (the one running the tests)
// and a scratch root the steps work under (--host-root). The session PATH puts stubs first for
// the three tools that cannot run here, each standing in for one thing:
// - systemctl: there is no systemd as PID 1 in a container. The stub records enable/reload and
//   starts a unit's ExecStart in the background with its AGENTKEYS_LISTEN, so /healthz is real.
//   A timer is only marked enabled and active. `start` of a Type=oneshot unit runs its ExecStart
//   now (output kept as the unit's journal, its EnvironmentFile= loaded), and on failure its
//   OnFailure= unit, with %n and a template's %i as systemd fills them.
// - journalctl: no journal without systemd; the stub prints what the oneshot stub kept.
// - apt-get: the test machine must not change, and ec2-instance-connect is an Ubuntu package;
//   the stub puts the package's eic_run_authorized_keys under the scratch root.
// - certbot: no ACME CA is reachable; the stub writes an openssl certificate for the -d name
//   into --config-dir/live/NAME, where certbot would, after checking the webroot exists.
// Everything else (sh, useradd --prefix, visudo, nginx -t, sshd -t, openssl, curl) is real.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { userInfo, tmpdir } from 'node:os';
import * as path from 'node:path';
import { freePort } from './net.js';

export interface TestHost {
  port: number;
  user: string;
  /** The client key (`--pem`). */
  keyFile: string;
  /** The scratch root (`--host-root`). */
  root: string;
  /** What the stubs recorded: systemctl.log, apt.log, certbot.log. */
  log(name: string): string;
  close(): Promise<void>;
}

const sbin = (tool: string) => (existsSync(`/usr/sbin/${tool}`) ? `/usr/sbin/${tool}` : tool);

export async function startTestHost(): Promise<TestHost> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentkeys-host-'));
  const root = path.join(dir, 'root');
  const state = path.join(dir, 'state');
  const stubs = path.join(dir, 'stubs');
  const stateDirs = ['pid', 'enabled', 'timers', 'journal'].map((d) => path.join(state, d));
  for (const d of [root, state, stubs, ...stateDirs]) mkdirSync(d, { recursive: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'client_key')]);
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'client_key.pub')));
  seedRoot(root, dir);
  writeStubs(stubs, root, state);
  const port = await freePort();
  const user = userInfo().username;
  const sessionPath = [
    stubs,
    path.dirname(process.execPath),
    '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  ];
  writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${dir}/host_key`,
      `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      // HOME away from the test user's own: bash sources ~/.bashrc for ssh commands, and a
      // developer's (pyenv init: ~0.5 s) would be paid on every round trip.
      `SetEnv PATH=${sessionPath.join(':')} HOME=${dir}`,
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege separation directory
  const sshd: ChildProcess = spawn(sbin('sshd'), ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  sshd.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitForPort(port, () => stderr);
  return {
    port,
    user,
    keyFile: path.join(dir, 'client_key'),
    root,
    log: (name) => (existsSync(path.join(state, name)) ? readFileSync(path.join(state, name), 'utf8') : ''),
    close: async () => {
      for (const f of readdirSync(path.join(state, 'pid'))) {
        const pid = Number(readFileSync(path.join(state, 'pid', f), 'utf8'));
        try {
          process.kill(pid);
        } catch {
          // already gone
        }
      }
      try {
        process.kill(-sshd.pid!); // the listener and the sessions it forked
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The broker env file and options that point agentkeys at this host. */
export function hostBrokerEnv(host: TestHost): string {
  return `EIP=127.0.0.1\nSSH_PORT=${host.port}\nBROKER_AWS_REGION=us-east-1\nACME_EMAIL=ops@example.com\n`;
}

/** What a fresh Ubuntu host has before setup-broker-host.sh: its users, sshd and nginx configs. */
function seedRoot(root: string, dir: string): void {
  for (const d of ['etc/ssh/sshd_config.d', 'etc/nginx/sites-enabled', 'etc/sudoers.d', 'home', 'run', 'var/log/nginx'])
    mkdirSync(path.join(root, d), { recursive: true });
  for (const f of ['passwd', 'group', 'shadow', 'gshadow', 'login.defs']) {
    const from = `/etc/${f}`;
    if (existsSync(from)) cpSync(from, path.join(root, 'etc', f));
  }
  // A fresh Ubuntu has a sudo group; the Debian test image may not.
  const group = path.join(root, 'etc/group');
  if (!/^sudo:/m.test(readFileSync(group, 'utf8'))) writeFileSync(group, `${readFileSync(group, 'utf8')}sudo:x:27:\n`);
  writeFileSync(
    path.join(root, 'etc/ssh/sshd_config'),
    `HostKey ${dir}/host_key\nPidFile ${root}/run/sshd-check.pid\nInclude ${root}/etc/ssh/sshd_config.d/*.conf\n`,
  );
  writeFileSync(
    path.join(root, 'etc/nginx/nginx.conf'),
    `pid ${root}/run/nginx.pid;\nerror_log ${root}/var/log/nginx/error.log;\nevents {}\n` +
      `http {\n  access_log off;\n  include ${root}/etc/nginx/sites-enabled/*;\n}\n`,
  );
}

function writeStubs(stubs: string, root: string, state: string): void {
  const stub = (name: string, body: string) => {
    writeFileSync(path.join(stubs, name), `#!/bin/sh\n${body}`);
    chmodSync(path.join(stubs, name), 0o755);
  };
  stub(
    'systemctl',
    `S=${state}; R=${root}
echo "$*" >> "$S/systemctl.log"
oneshot() { # unit name, unit file, %i
  cmdline=$(sed -n 's/^ExecStart=//p' "$2" | sed "s/%n/$1/g; s/%i/$3/g; s/%%/%/g")
  envf=$(sed -n 's/^EnvironmentFile=//p' "$2")
  if (if [ -n "$envf" ]; then set -a; . "$envf"; set +a; fi; sh -c "$cmdline") >> "$S/journal/$1" 2>&1; then
    return 0
  fi
  onf=$(sed -n 's/^OnFailure=//p' "$2" | sed "s/%n/$1/g")
  if [ -n "$onf" ]; then
    inst=$(printf %s "$onf" | sed -n 's/^[^@]*@\\(.*\\)\\.service$/\\1/p')
    tmpl=$(printf %s "$onf" | sed 's/@.*\\.service$/@.service/')
    oneshot "$onf" "$R/etc/systemd/system/$tmpl" "$inst" || true
  fi
  return 1
}
start() {
  u=$R/etc/systemd/system/$1
  case $1 in *.timer) touch "$S/timers/$1"; return 0 ;; esac
  if grep -q '^Type=oneshot' "$u"; then oneshot "$1" "$u" ""; return $?; fi
  exe=$(sed -n 's/^ExecStart=//p' "$u")
  listen=$(sed -n 's/^Environment=AGENTKEYS_LISTEN=//p' "$u")
  AGENTKEYS_LISTEN=$listen nohup "$exe" </dev/null >/dev/null 2>&1 &
  echo $! > "$S/pid/$1"
}
stop() { [ -f "$S/pid/$1" ] && kill "$(cat "$S/pid/$1")" 2>/dev/null; rm -f "$S/pid/$1"; sleep 0.2; }
active() { [ -f "$S/timers/$1" ] || { [ -f "$S/pid/$1" ] && kill -0 "$(cat "$S/pid/$1")" 2>/dev/null; }; }
cmd=$1; shift
case $cmd in
  is-enabled) if [ -f "$S/enabled/$1" ]; then echo enabled; else echo disabled; exit 1; fi ;;
  is-active) if active "$1"; then echo active; else echo inactive; exit 3; fi ;;
  enable) [ "$1" = --now ] && shift; for u in "$@"; do touch "$S/enabled/$u"; active "$u" || start "$u"; done ;;
  restart) for u in "$@"; do stop "$u"; start "$u"; done ;;
  try-restart) for u in "$@"; do if active "$u"; then stop "$u"; start "$u"; fi; done ;;
  start) rc=0; for u in "$@"; do start "$u" || rc=1; done; exit $rc ;;
  daemon-reload|reload|reload-or-restart) : ;;
  *) echo "systemctl stub: $cmd not modelled" >&2; exit 1 ;;
esac
`,
  );
  stub(
    'journalctl',
    `while [ $# -gt 0 ]; do case $1 in -u) unit=$2; shift ;; esac; shift; done
[ -f "${state}/journal/$unit" ] && tail -n 20 "${state}/journal/$unit"
exit 0
`,
  );
  stub(
    'apt-get',
    `echo "$*" >> ${state}/apt.log
for p in "$@"; do
  if [ "$p" = ec2-instance-connect ]; then
    mkdir -p ${root}/usr/share/ec2-instance-connect
    printf '#!/bin/sh\\n' > ${root}/usr/share/ec2-instance-connect/eic_run_authorized_keys
    chmod 755 ${root}/usr/share/ec2-instance-connect/eic_run_authorized_keys
  fi
done
`,
  );
  stub(
    'certbot',
    `echo "$*" >> ${state}/certbot.log
while [ $# -gt 0 ]; do
  case $1 in -d) name=$2; shift ;; -w) webroot=$2; shift ;; --config-dir) conf=$2; shift ;; esac
  shift
done
[ -d "$webroot" ] || { echo "certbot stub: webroot $webroot missing" >&2; exit 1; }
[ -f ${state}/certbot-fail ] && { echo "Challenge failed for domain $name" >&2; exit 1; }
mkdir -p "$conf/live/$name"
openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj "/CN=$name" \\
  -keyout "$conf/live/$name/privkey.pem" -out "$conf/live/$name/fullchain.pem" 2>/dev/null
`,
  );
}

/** A stand-in for a service binary: answers /healthz with 200 on AGENTKEYS_LISTEN. */
export function writeServiceBinary(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    `#!${process.execPath}\n` +
      `const [host, port] = process.env.AGENTKEYS_LISTEN.split(':');\n` +
      `require('node:http').createServer((q, s) => { s.writeHead(q.url === '/healthz' ? 200 : 404); s.end(); })` +
      `.listen(Number(port), host);\n`,
  );
  chmodSync(file, 0o755);
}

async function waitForPort(port: number, stderr: () => string): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.end(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the test sshd did not listen on ${port}: ${stderr()}`);
}
