// `agentkeys alert`, what agentkeys-alert@ runs when a watch fails: to an SNS topic (moto, which
// delivers to an http subscription, so the message is seen arriving), to a webhook, or nowhere
// but the journal; a target it does not understand is refused, never sent nowhere.
import { describe, expect, it } from 'vitest';
import { createSnsApi } from '../../src/aws/sns.js';
import { createServiceContext } from '../../src/aws/service.js';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { tempDir } from '../helpers/tmp.js';
import { startWebhook } from '../helpers/webhook.js';

const moto = useMoto();
const cli = (args: string[]) => runCli(args, { cwd: tempDir(), env: moto.current.env });

describe('agentkeys alert', () => {
  it('sns: the topic delivers the unit, the host and the text (seen at an http subscription)', async () => {
    const sns = createSnsApi(createServiceContext({ region: 'us-east-1' }));
    const topic = await sns.createTopic('agentkeys-alerts-test');
    const hook = await startWebhook(200);
    try {
      await sns.subscribe(topic, 'http', `${hook.url}/sns`);
      const r = await cli([
        '--json',
        'alert',
        '--unit',
        'agentkeys-watch-verify.service',
        '--target',
        `sns:${topic}`,
        '--message',
        'chain broken at 42',
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, target: 'sns', receipt: expect.any(String) });
      const note = hook.received.map(
        (m) => JSON.parse(m.body) as { Type?: string; Subject?: string; Message?: string },
      );
      const delivered = note.find((m) => m.Type === 'Notification');
      expect(delivered?.Subject).toMatch(/^agentkeys: agentkeys-watch-verify\.service failed on /);
      expect(delivered?.Message).toContain('chain broken at 42');
    } finally {
      await hook.close();
    }
  });

  it('webhook: a 2xx delivers; any other answer is ALERT_DELIVERY_FAILED (exit 1), so systemd logs it', async () => {
    const good = await startWebhook(204);
    const bad = await startWebhook(500);
    try {
      const ok = await cli([
        '--json',
        'alert',
        '--unit',
        'u.service',
        '--target',
        `webhook:${good.url}/a`,
        '--message',
        'x',
      ]);
      expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, target: 'webhook', receipt: '204' });
      expect(JSON.parse(good.received[0]!.body)).toMatchObject({ source: 'agentkeys', unit: 'u.service', text: 'x' });
      // As agentkeys-alert@ runs it: the target from ALERT_TARGET (its 0600 EnvironmentFile).
      const fromEnv = await runCli(['--json', 'alert', '--unit', 'v.service', '--message', 'y'], {
        cwd: tempDir(),
        env: { ...moto.current.env, ALERT_TARGET: `webhook:${good.url}/env` },
      });
      expect(JSON.parse(fromEnv.stdout)).toMatchObject({ ok: true, target: 'webhook' });
      expect(good.received.map((m) => m.path)).toEqual(['/a', '/env']);
      const no = await cli([
        '--json',
        'alert',
        '--unit',
        'u.service',
        '--target',
        `webhook:${bad.url}/a`,
        '--message',
        'x',
      ]);
      expect({ code: no.code, error: JSON.parse(no.stdout).error.code }).toEqual({
        code: 1,
        error: 'ALERT_DELIVERY_FAILED',
      });
    } finally {
      await Promise.all([good.close(), bad.close()]);
    }
  });

  it('journal: nothing is sent, the lines are printed for the journal', async () => {
    const r = await cli(['alert', '--unit', 'u.service', '--target', 'journal', '--message', 'rotation due']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rotation due');
    expect(r.stdout).toContain('sent to journal');
  });

  it('refuses a target it does not understand (ALERT_TARGET_INVALID), before sending anything', async () => {
    for (const target of [
      'webhook:http://hooks.example.com/x', // plain http off loopback
      'webhook:https://user:pw@hooks.example.com/x',
      'sns:arn:aws:sqs:us-east-1:123456789012:q',
      'email:ops@example.com',
    ]) {
      const r = await cli(['--json', 'alert', '--unit', 'u', '--target', target, '--message', 'x']);
      expect({ target, code: r.code, error: JSON.parse(r.stdout).error.code }).toEqual({
        target,
        code: 2,
        error: 'ALERT_TARGET_INVALID',
      });
    }
    const missing = await cli(['--json', 'alert', '--target', 'journal']);
    expect(JSON.parse(missing.stdout).error.code).toBe('FLAG_MISSING');
  });
});
