// The doctor's runner and the checks that need no AWS, in-process.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AgentkeysConfig } from '../../src/config/load.js';
import { fail, ok, type DoctorCheck, type DoctorContext } from '../../src/doctor/check.js';
import { principalOf } from '../../src/doctor/checks/aws.js';
import { kmsCostCheck } from '../../src/doctor/checks/kms.js';
import { runDoctor } from '../../src/doctor/run.js';
import { tempDir } from '../helpers/tmp.js';

const ctx = (config: Partial<AgentkeysConfig> = {}): DoctorContext => ({
  config: { origins: {}, ...config } as AgentkeysConfig,
  http: { get: async () => ({ status: 500, body: '' }), certificate: async () => Promise.reject(new Error('no')) },
  now: new Date('2026-12-02T00:00:00Z'),
});
const check = (id: string, run: DoctorCheck['run'], needs?: string[]): DoctorCheck => ({
  id,
  group: 'g',
  title: id,
  run,
  ...(needs ? { needs } : {}),
});

describe('doctor runner', () => {
  it('skips a check whose needs failed, naming them; a thrown error is a failure with its hint', async () => {
    const report = await runDoctor(ctx(), [
      check('a', async () => fail('broken', 'fix a')),
      check('b', async () => ok('fine'), ['a']),
      check('c', async () => {
        throw new Error('boom');
      }),
      check('d', async () => ok('fine'), ['b']),
    ]);
    expect(report.healthy).toBe(false);
    expect(report.checks.map((r) => [r.id, r.status, r.detail])).toEqual([
      ['a', 'fail', 'broken'],
      ['b', 'skip', 'needs a'],
      ['c', 'fail', 'boom'],
      ['d', 'skip', 'needs b'],
    ]);
    expect(report.checks[2]!.fix).toBe('run it again with --debug');
  });

  it('an assumed-role session is simulated as its role; root is not simulated', () => {
    expect(principalOf('arn:aws:sts::123456789012:assumed-role/Admin/alice')).toBe(
      'arn:aws:iam::123456789012:role/Admin',
    );
    expect(principalOf('arn:aws:iam::123456789012:user/agentkeys-admin')).toBe(
      'arn:aws:iam::123456789012:user/agentkeys-admin',
    );
    expect(principalOf('arn:aws:iam::123456789012:root')).toBeUndefined();
  });
});

describe('kms.cost', () => {
  it('projects a month of Sign requests and the quota share from the chain’s measured rate', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'a.jsonl');
    const rows = Array.from({ length: 11 }, (_, i) =>
      JSON.stringify({ created_at: new Date(Date.UTC(2026, 11, 1, 0, 0, i * 10)).toISOString(), signature: 'sig' }),
    );
    writeFileSync(log, rows.join('\n') + '\n');
    // 11 signed events over 100 s: 0.11 Sign/s, 285,120 a month, $4.28.
    const out = await kmsCostCheck.run(ctx({ log }));
    expect(out).toMatchObject({ status: 'ok' });
    expect(out.detail).toMatch(/^11 events over 100 s \(per-row mode\): 285,120 Sign requests\/month ≈ \$4\.28/);
    expect((await kmsCostCheck.run(ctx())).status).toBe('skip');
  });
});
