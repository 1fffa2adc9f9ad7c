// npm run bench:setup: `agentkeys setup --test` twice against moto (CLI process wall time and AWS
// calls counted at the SDK middleware), beside the upstream bash baseline of aws-and-moto.md §5
// measured against the same moto (SES sender poll excluded there; here step 9 never polls).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMoto } from '../../src/sandbox/moto.js';
import { seedSandbox } from '../../src/sandbox/seed.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '../../bin/agentkeys.js'); // dist/bin/agentkeys.js
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const moto = await startMoto();
Object.assign(process.env, moto.env);
try {
  const seed = await seedSandbox(true, moto.endpoint);
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: seed.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: seed.credentials.secretAccessKey,
  };
  const run = (toStep: string[] = ['--to-step', '16']) => {
    const t = process.hrtime.bigint();
    const out = JSON.parse(
      execFileSync(process.execPath, ['--', CLI, '--json', 'setup', '--test', ...toStep, '--yes'], {
        cwd: seed.dir,
        env,
        encoding: 'utf8',
      }),
    ) as { calls: { total: number; mutating: number }; wallMs: number; steps: { status: string }[] };
    return { wall: Number(process.hrtime.bigint() - t) / 1e9, ...out };
  };
  const first = run();
  const second = run();
  const allFirst = run([]);
  const allSecond = run([]);
  const fmt = (r: typeof first) =>
    `${r.wall.toFixed(2)} s (${(r.wallMs / 1000).toFixed(2)} s in the steps), ${String(r.calls.total).padStart(3)} AWS calls, ${r.calls.mutating} mutating`;
  console.log('agentkeys setup --test against moto (CLI process, node start-up included)');
  console.log(`  first run   ${fmt(first)}   upstream bash: 32.8 s, 82 calls   (target ≤ 5 s)`);
  console.log(`  second run  ${fmt(second)}   upstream bash: 24.2 s, 61 calls   (target ≤ 1.5 s, 0 mutating)`);
  console.log('all 22 steps (the upstream 16, OIDC waiting on the broker, the 6 of agentkeys)');
  console.log(`  first run   ${fmt(allFirst)}   (after the 16 above)`);
  console.log(`  second run  ${fmt(allSecond)}   (target ≤ 1.5 s, 0 mutating)`);
  console.log(`  statuses after the second run: ${[...new Set(second.steps.map((s) => s.status))].join(', ')}`);
} finally {
  await moto.stop();
}
