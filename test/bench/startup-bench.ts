// npm run bench:startup: how long the CLI takes to start, beside bare `node -e 0` measured in the
// same run (the machine's noise cancels out of the differences). Targets (issue 26): --help ≤
// node + 60 ms; verify-audit of an empty log ≤ --help + 60 ms; sign of one local event ≤ node +
// 150 ms. Each figure is the median of RUNS runs, after one warm-up.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'agentkeys.js');
const cwd = mkdtempSync(path.join(tmpdir(), 'agentkeys-startup-'));
writeFileSync(path.join(cwd, 'empty.jsonl'), '');

function median(args: string[]): number {
  const times: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd, stdio: 'ignore' });
    if (r.status !== 0 && r.status !== 5) throw new Error(`${args.join(' ')} exited ${r.status}`);
    if (i > 0) times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

spawnSync(process.execPath, [cli, 'keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], { cwd });
const node = median(['-e', '0']);
const help = median([cli, '--help']);
const verify = median([cli, 'verify-audit', '--log', 'empty.jsonl', '--no-anchor']);
const sign = median([cli, 'sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{}']);
const row = (name: string, ms: number, base: number, baseName: string, target: number) =>
  console.log(
    `${name.padEnd(34)} ${ms.toFixed(0).padStart(5)} ms  = ${baseName} + ${(ms - base).toFixed(0).padStart(4)} ms` +
      `  (target + ${target} ms: ${ms - base <= target ? 'met' : 'missed'})`,
  );
console.log(`startup, median of ${RUNS} runs (node ${process.version})`);
console.log(`${'node -e 0'.padEnd(34)} ${node.toFixed(0).padStart(5)} ms`);
row('agentkeys --help', help, node, 'node', 60);
row('verify-audit, empty log', verify, help, '--help', 60);
row('sign, one event, local Ed25519 key', sign, node, 'node', 150);
