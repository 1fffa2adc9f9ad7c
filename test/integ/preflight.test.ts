// Preflight through the CLI against moto: an instance too small for the build and closed on 80 and
// 443 is refused before anything changes (PREFLIGHT_FAILED, each problem with its fix);
// --skip-preflight goes ahead. moto has no public DNS, so the delegation check is skipped behind
// AWS_ENDPOINT_URL (test/unit/preflight.test.ts covers it with an injected answer).
import { describe, expect, it } from 'vitest';
import { createSandboxAws } from '../../src/aws/sandbox-api.js';
import { writeStackEnvFiles } from '../../src/sandbox/seed.js';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { seedAccount } from '../helpers/setup-harness.js';
import { tempDir } from '../helpers/tmp.js';

const moto = useMoto();

describe('setup preflight', () => {
  it('refuses a t3.micro open only on 22 before any change, naming each fix; --skip-preflight goes ahead', async () => {
    const { zoneId } = await seedAccount();
    const instanceId = await createSandboxAws({ region: 'us-east-1' }).runInstance({
      instanceType: 't3.micro',
      ports: [22],
    });
    const cwd = tempDir();
    await writeStackEnvFiles(cwd, true, { zoneId, instanceId });
    const env = moto.current.env;
    const r = await runCli(['--json', 'setup', '--test', '--yes'], { cwd, env });
    const error = JSON.parse(r.stdout).error as { code: string; message: string; hint: string };
    expect({ code: r.code, error: error.code }).toEqual({ code: 1, error: 'PREFLIGHT_FAILED' });
    expect(error.message).toContain('preflight found 3 problem(s); nothing was changed');
    expect(error.message).toContain(`${instanceId} is a t3.micro (1024 MiB): building the broker needs 2048 MiB`);
    expect(error.message).toMatch(/do not open tcp 80 to 0\.0\.0\.0\/0 \(Let's Encrypt's HTTP-01 challenge\)/);
    expect(error.message).toMatch(
      /fix: aws ec2 authorize-security-group-ingress --group-id sg-\w+ --protocol tcp --port 443/,
    );
    expect(error.hint).toContain('--skip-preflight');
    const plan = await runCli(['--json', 'setup', '--test', '--plan', '--skip-preflight'], { cwd, env });
    expect(plan.code, plan.stderr).toBe(4); // went on to plan the changes
  });
});
