// npm run bench:broker: broker setup's step 4 uploading nine binaries over a real sshd on
// loopback (test/helpers/sshd.ts), beside scp of the same files over the same sshd in the same
// run: the ratio is the price of base64 in a script, hashing on both sides and the atomic rename.
// A second run only compares checksums.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokerServices } from '../../src/broker/render.js';
import { loadStack } from '../../src/config/stack.js';
import { hostBrokerEnv, startTestHost } from '../helpers/sshd.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '../../bin/agentkeys.js'); // dist/bin/agentkeys.js
const REPO = path.join(here, '../../..'); // dist/test/bench → the package
const MIB = Number(process.env.BENCH_BINARY_MIB ?? 30);

const host = await startTestHost();
const cwd = mkdtempSync(path.join(tmpdir(), 'agentkeys-broker-bench-'));
try {
  mkdirSync(path.join(cwd, 'env'));
  cpSync(path.join(REPO, 'env/operator-workstation.test.env'), path.join(cwd, 'env/operator-workstation.test.env'));
  writeFileSync(path.join(cwd, 'env/broker.test.env'), hostBrokerEnv(host));
  const stack = await loadStack({ test: true, envDir: path.join(cwd, 'env') });
  const release = path.join(cwd, 'release');
  mkdirSync(release);
  const binaries = brokerServices(stack).map((s) => s.binary);
  for (const b of binaries) writeFileSync(path.join(release, b), randomBytes(MIB << 20));
  const seconds = (run: () => void) => {
    const t = process.hrtime.bigint();
    run();
    return Number(process.hrtime.bigint() - t) / 1e9;
  };
  const setup = () =>
    JSON.parse(
      execFileSync(
        process.execPath,
        ['--', CLI, '--json', 'broker', 'setup', '--test', '--fallback', '--pem', host.keyFile, '--os-user'].concat([
          host.user,
          '--host-root',
          host.root,
          '--only-step',
          'binaries',
          '--upload-bin',
          release,
        ]),
        { cwd, encoding: 'utf8', env: { ...process.env, AGENTKEYS_DIR: path.join(cwd, '.agentkeys') } },
      ),
    ) as { sshRoundTrips: number; steps: { changes: unknown[] }[] };
  let first = { sshRoundTrips: 0, steps: [] as { changes: unknown[] }[] };
  let second = first;
  const upload = seconds(() => (first = setup()));
  const check = seconds(() => (second = setup()));
  const scpDir = path.join(host.root, 'scp');
  mkdirSync(scpDir);
  const scp = seconds(() =>
    execFileSync('scp', [
      // -O: the classic protocol (the test sshd runs no sftp subsystem).
      ...['-O', '-q', '-i', host.keyFile, '-P', String(host.port), '-o', 'StrictHostKeyChecking=no'],
      ...['-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'],
      ...binaries.map((b) => path.join(release, b)),
      `${host.user}@127.0.0.1:${scpDir}/`,
    ]),
  );
  const total = MIB * binaries.length;
  console.log(`broker setup step 4: ${binaries.length} binaries of ${MIB} MiB (${total} MiB) over sshd on loopback`);
  console.log(
    `  upload      ${upload.toFixed(2)} s (${(total / upload).toFixed(0)} MiB/s), ` +
      `${first.steps[0]!.changes.length} changes, ${first.sshRoundTrips} round trips`,
  );
  console.log(`  scp, same files, same run: ${scp.toFixed(2)} s  →  ratio ${(upload / scp).toFixed(1)}×`);
  console.log(
    `  second run  ${check.toFixed(2)} s, ${second.steps[0]!.changes.length} changes, ` +
      `${second.sshRoundTrips} round trip(s) (checksums only)`,
  );
} finally {
  await host.close();
  rmSync(cwd, { recursive: true, force: true });
}
// The CLI's ssh ControlMaster keeps its session on the test sshd for ControlPersist (10 min), and
// that session still holds the sshd's stderr pipe this process reads: leave without waiting for it.
process.exit(0);
