// doctor --prometheus: label values that hold quotes, backslashes and newlines (a --log path can)
// are escaped as the text format asks, and promtool accepts the file.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { prometheusText } from '../../src/doctor/metrics.js';

describe('prometheusText', () => {
  it('escapes label values and lists HELP and TYPE once per metric; promtool accepts it', () => {
    const text = prometheusText(
      {
        healthy: false,
        checks: [
          {
            id: 'kms.cost',
            group: 'kms',
            title: 't',
            status: 'fail',
            detail: 'd',
            durationMs: 1500,
            metrics: [{ name: 'agentkeys_audit_log_events', labels: { log: 'a "b" \\ c\nd.jsonl' }, value: 3 }],
          },
        ],
      },
      new Date('2026-12-06T00:00:00Z'),
    );
    expect(text).toContain('agentkeys_audit_log_events{log="a \\"b\\" \\\\ c\\nd.jsonl"} 3\n');
    expect(text).toContain('agentkeys_doctor_check_status{check="kms.cost",group="kms",status="fail"} 1\n');
    expect(text).toContain('agentkeys_doctor_check_duration_seconds{check="kms.cost"} 1.5\n');
    expect(text.match(/# TYPE agentkeys_doctor_check_status gauge/g)).toHaveLength(1);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
  });
});

describe('the Grafana dashboard (templates/grafana/agentkeys.json)', () => {
  it('parses, and every metric it queries is one doctor --prometheus or mcp --metrics-port writes', async () => {
    const { readFileSync } = await import('node:fs');
    const dash = JSON.parse(readFileSync('templates/grafana/agentkeys.json', 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dash.panels.length).toBeGreaterThan(5);
    const written =
      prometheusText({ healthy: true, checks: [] }, new Date()) +
      readFileSync('src/doctor/metrics.ts', 'utf8') +
      readFileSync('src/mcp/metrics.ts', 'utf8');
    for (const p of dash.panels)
      for (const t of p.targets)
        for (const name of t.expr.match(/agentkeys_[a-z_]+/g) ?? [])
          expect([p.title, written]).toEqual([p.title, expect.stringContaining(name)]);
  });
});
