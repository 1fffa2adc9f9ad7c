// `agentkeys mcp` driven by the MCP SDK's own client over stdio, against moto (KMS, with the
// launcher's DIGEST patch) and anvil. Throttling and an outage come from a real HTTP proxy in
// front of moto, because moto never throttles (a deviation from AWS, not a client mock).
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { spawnSync } from 'node:child_process';
import { freePort } from '../helpers/net.js';
import { startPrometheus } from '../helpers/prometheus.js';
import { parseEther, type Address, type Hex } from 'viem';
import { createKmsApi } from '../../src/aws/kms.js';
import { useAnvil } from '../helpers/anvil.js';
import { CLI, runCli } from '../helpers/cli.js';
import { startKmsProxy, type KmsProxy } from '../helpers/kms-proxy.js';
import { useMoto } from '../helpers/moto.js';
import { tempDir } from '../helpers/tmp.js';
import { createTestDatabase, sql } from '../helpers/pg-db.js';

const moto = useMoto();
const node = useAnvil();

const RECIPIENT: Address = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const BASE_ENV = () => ({
  PATH: process.env.PATH!,
  HOME: process.env.HOME ?? '/tmp',
  NO_COLOR: '1',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});

interface Session {
  client: Client;
  stderr: () => string;
  call(name: string, args?: Record<string, unknown>): Promise<{ isError: boolean; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

async function connect(args: string[], env: Record<string, string>, cwd: string): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--', CLI, ...args],
    env: { ...BASE_ENV(), ...env },
    cwd,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: 'agentkeys-test', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    stderr: () => stderr,
    call: async (name, a = {}) => {
      const r = (await client.callTool({ name, arguments: a })) as { isError?: boolean; content: { text: string }[] };
      return { isError: r.isError === true, json: JSON.parse(r.content[0]!.text) as Record<string, unknown> };
    },
    close: () => client.close(),
  };
}

async function secpKey(): Promise<string> {
  return (
    await createKmsApi({ region: 'us-east-1' }).createKey({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'SIGN_VERIFY' })
  ).Arn!;
}

function writePolicy(cwd: string, extra: Record<string, unknown> = {}): string {
  const file = path.join(cwd, 'policy.json');
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      signMessage: true,
      chainIds: [31337],
      contracts: [RECIPIENT],
      maxValueWei: parseEther('1').toString(),
      ...extra,
    }),
  );
  return file;
}

const txFor = (nonce: number, over: Record<string, unknown> = {}) => ({
  chainId: 31337,
  nonce,
  to: RECIPIENT,
  value: parseEther('0.5').toString(),
  gas: 21000,
  maxFeePerGas: '3000000000',
  maxPriorityFeePerGas: '1000000000',
  ...over,
});

describe('agentkeys mcp --metrics-port (issue 27)', () => {
  it('counts calls by tool and decision, denials by rule and KMS latency; promtool accepts it; Prometheus scrapes it', async () => {
    const cwd = tempDir();
    const arn = await secpKey();
    const port = await freePort();
    const s = await connect(
      [
        'mcp',
        '--key-id',
        `kms:${arn}`,
        '--policy',
        writePolicy(cwd),
        '--audit-log',
        path.join(cwd, 'a.jsonl'),
        '--metrics-port',
        String(port),
      ],
      moto.current.env,
      cwd,
    );
    const prometheus = await startPrometheus(`127.0.0.1:${port}`);
    try {
      await s.call('get_address');
      await s.call('sign_message', { message: 'hello' });
      for (const chainId of [1, 5])
        expect((await s.call('sign_transaction', { transaction: txFor(0, { chainId }) })).json).toMatchObject({
          error: { rule: 'chainIds' },
        });
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toContain('agentkeys_mcp_calls_total{tool="sign_message",decision="allowed"} 1\n');
      expect(text).toContain('agentkeys_mcp_calls_total{tool="sign_transaction",decision="denied"} 2\n');
      expect(text).toContain('agentkeys_mcp_denials_total{rule="chainIds"} 2\n');
      // The EVM signature and the decision chain's own signatures (every event is signed with KMS).
      expect(text).toMatch(/agentkeys_kms_request_duration_seconds_count\{operation="Sign"\} [1-9]\d*\n/);
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
      // A real Prometheus, scraping every second, sees the same numbers.
      const denied = await prometheus.query('agentkeys_mcp_denials_total{rule="chainIds"}');
      expect(denied[0]!.value[1]).toBe('2');
      const signs = await prometheus.query('agentkeys_kms_request_duration_seconds_count{operation="Sign"}');
      expect(Number(signs[0]!.value[1])).toBeGreaterThan(0);
    } finally {
      await prometheus.close();
      await s.close();
    }
  }, 90_000);
});

describe('agentkeys mcp over stdio', () => {
  it('lists the tools; denies by rule; signs what the policy allows (anvil mines it); the chain verifies', async () => {
    const cwd = tempDir();
    const arn = await secpKey();
    const log = path.join(cwd, 'mcp-audit.jsonl');
    const s = await connect(
      ['mcp', '--key-id', `kms:${arn}`, '--policy', writePolicy(cwd), '--audit-log', log],
      moto.current.env,
      cwd,
    );
    try {
      const tools = (await s.client.listTools()).tools.map((t) => t.name).sort();
      expect(tools).toEqual([
        'get_address',
        'health_check',
        'sign_message',
        'sign_transaction',
        'sign_typed_data',
        'simulate',
        'verify_audit',
        'verify_signature',
      ]);
      const { json: addr } = await s.call('get_address');
      const address = addr.address as Address;
      await node.current.fund(address, parseEther('5'));

      const denied = await s.call('sign_transaction', { transaction: txFor(0, { chainId: 1 }) });
      expect(denied.isError).toBe(true);
      expect(denied.json).toMatchObject({ error: { code: 'POLICY_DENIED', rule: 'chainIds' } });
      const tooMuch = await s.call('sign_transaction', {
        transaction: txFor(0, { value: parseEther('2').toString() }),
      });
      expect(tooMuch.json).toMatchObject({ error: { rule: 'maxValueWei' } });

      const allowed = await s.call('sign_transaction', { transaction: txFor(0) });
      expect(allowed.isError).toBe(false);
      const hash = await node.current.public.sendRawTransaction({ serializedTransaction: allowed.json.raw as Hex });
      const receipt = await node.current.public.waitForTransactionReceipt({ hash });
      expect(receipt.status).toBe('success');
      expect(receipt.from.toLowerCase()).toBe(address.toLowerCase());

      const health = await s.call('health_check');
      expect(health.json).toMatchObject({ healthy: true, address, keyState: 'Enabled' });
      const verified = await s.call('verify_audit');
      expect(verified.json).toMatchObject({ ok: true, events: 6 }); // the server's start and five calls
    } finally {
      await s.close();
    }
    const all = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event_type: string; actor_id: string; payload: Record<string, unknown> });
    expect([all[0]!.event_type, all.at(-1)!.event_type]).toEqual(['mcp.server_start', 'mcp.server_stop']);
    const rows = all.slice(1, -1);
    expect(rows.map((r) => r.event_type)).toEqual([
      'mcp.get_address',
      'mcp.sign_transaction',
      'mcp.sign_transaction',
      'mcp.sign_transaction',
      'mcp.health_check',
      'mcp.verify_audit',
    ]);
    expect(rows[0]!.actor_id).toBe('mcp:agentkeys-test/1.0.0');
    expect(rows[1]!.payload).toMatchObject({ decision: 'denied', rule: 'chainIds' });
    expect(rows[3]!.payload).toMatchObject({
      decision: 'allowed',
      signature_hash: expect.stringMatching(/^0x/),
      chain_id: 31337,
    });
    const cli = await runCli(['verify-audit', '--log', log, '--json'], { cwd, env: moto.current.env });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: true, events: 8 });
  });

  it('without --policy only the read and verify tools work; signing is denied and recorded', async () => {
    const cwd = tempDir();
    const log = path.join(cwd, 'a.jsonl');
    const s = await connect(['mcp', '--key-id', `kms:${await secpKey()}`, '--audit-log', log], moto.current.env, cwd);
    try {
      expect((await s.call('get_address')).isError).toBe(false);
      for (const [tool, a] of [
        ['sign_message', { message: 'gm' }],
        ['sign_transaction', { transaction: txFor(0) }],
      ] as const) {
        expect((await s.call(tool, a)).json).toMatchObject({ error: { code: 'POLICY_DENIED', rule: 'no-policy' } });
      }
    } finally {
      await s.close();
    }
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(5); // start, three calls, stop
  });

  it('checkpoint mode: calls land unsigned at once, checkpoints follow every N calls, on the interval and at close', async () => {
    const cwd = tempDir();
    const log = path.join(cwd, 'a.jsonl');
    const args = [
      'mcp',
      '--key-id',
      `kms:${await secpKey()}`,
      '--audit-log',
      log,
      '--checkpoint-every',
      '3',
      '--checkpoint-interval',
      '300ms',
    ];
    const s = await connect(args, moto.current.env, cwd);
    const sizes = (): number[] => {
      try {
        return readFileSync(`${log}.checkpoints.jsonl`, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).size as number);
      } catch {
        return [];
      }
    };
    // Checkpoints are signed after the appends, asynchronously: wait for each (10 s at most).
    const until = async (ok: () => boolean) => {
      for (let waited = 0; !ok(); waited += 50) {
        if (waited > 10_000) throw new Error(`no such checkpoint after 10 s: ${JSON.stringify(sizes())}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    // The server's start is the first event: three calls make four. Which of the two triggers
    // (every 3, or the 300 ms interval) signs each checkpoint depends on timing; each call is covered soon.
    const covered = (n: number) => until(() => Math.max(0, ...sizes()) === n);
    try {
      for (let i = 0; i < 3; i++) await s.call('get_address');
      await covered(4);
      await s.call('health_check');
      await covered(5);
      await s.call('get_address');
      await covered(6);
    } finally {
      await s.close();
    }
    await until(() => Math.max(...sizes()) === 7); // and the close the stop event
    expect(
      readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .every((l) => JSON.parse(l).signature === null),
    ).toBe(true);
    const v = await runCli(['--json', 'verify-audit', '--log', log], { cwd, env: moto.current.env });
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, findings: [], checkpoints: { coveredEvents: 7 } });
  });

  it('audits into PostgreSQL too: decisions land as rows and the chain verifies from the database', async () => {
    const cwd = tempDir();
    const url = await createTestDatabase();
    expect((await runCli(['db', 'migrate', '--database-url', url], { cwd, env: moto.current.env })).code).toBe(0);
    const s = await connect(
      ['mcp', '--key-id', `kms:${await secpKey()}`, '--policy', writePolicy(cwd), '--audit-log', url],
      moto.current.env,
      cwd,
    );
    try {
      expect((await s.call('sign_message', { message: 'gm' })).isError).toBe(false);
      expect((await s.call('sign_transaction', { transaction: txFor(0, { chainId: 5 }) })).json).toMatchObject({
        error: { rule: 'chainIds' },
      });
    } finally {
      await s.close();
    }
    const rows = await sql<{ event_type: string; payload: { decision: string } }>(
      url,
      'SELECT event_type, payload FROM audit_events ORDER BY created_at',
    );
    expect(rows.map((r) => [r.event_type, r.payload.decision])).toEqual([
      ['mcp.server_start', undefined],
      ['mcp.sign_message', 'allowed'],
      ['mcp.sign_transaction', 'denied'],
      ['mcp.server_stop', undefined],
    ]);
    const verified = await runCli(['verify-audit', '--log', url], { cwd, env: moto.current.env });
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
  });

  it('refuses to start with a policy file that has an unknown field (exit 2, POLICY_UNKNOWN_FIELD)', async () => {
    const cwd = tempDir();
    const policy = writePolicy(cwd, { allowEverything: true });
    const r = await runCli(
      ['mcp', '--key-id', `kms:${await secpKey()}`, '--policy', policy, '--audit-log', path.join(cwd, 'a.jsonl')],
      { cwd, env: moto.current.env },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('POLICY_UNKNOWN_FIELD');
    expect(r.stderr).toContain('allowEverything');
  });

  it('rides out KMS throttling with backoff, and a KMS outage is a tool error, not a crash', async () => {
    const cwd = tempDir();
    const proxy: KmsProxy = await startKmsProxy(moto.current.endpoint);
    try {
      const env = { ...moto.current.env, AWS_ENDPOINT_URL: proxy.endpoint, AGENTKEYS_KMS_MAX_ATTEMPTS: '4' };
      const s = await connect(
        [
          'mcp',
          '--key-id',
          `kms:${await secpKey()}`,
          '--policy',
          writePolicy(cwd),
          '--audit-log',
          path.join(cwd, 'a.jsonl'),
        ],
        env,
        cwd,
      );
      try {
        proxy.throttleSigns(2);
        const ok = await s.call('sign_message', { message: 'through the throttle' });
        expect(ok.isError).toBe(false);
        expect(proxy.counts.throttled).toBe(2);
        proxy.setDown(true);
        const down = await s.call('sign_message', { message: 'during the outage' });
        expect(down.isError).toBe(true);
        expect(down.json).toMatchObject({ error: { code: 'AWS_CALL_FAILED' } });
        const health = await s.call('health_check');
        expect(health.isError).toBe(false);
        expect(health.json).toMatchObject({ healthy: false, error: 'AWS_CALL_FAILED' });
        proxy.setDown(false);
        expect((await s.call('sign_message', { message: 'after the outage' })).isError).toBe(false);
      } finally {
        await s.close();
      }
    } finally {
      await proxy.close();
    }
  });

  it('refreshes credential_process credentials (IAM Roles Anywhere) across several expiries', async () => {
    const cwd = tempDir();
    const counter = path.join(cwd, 'issued');
    writeFileSync(counter, '');
    const helper = path.join(cwd, 'signing-helper.mjs');
    // Stands in for aws_signing_helper credential-process: short-lived credentials, 2 s each.
    writeFileSync(
      helper,
      `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(counter)}, 'x');\nprocess.stdout.write(JSON.stringify({ Version: 1, AccessKeyId: 'ASIA' + Date.now(), SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 2000).toISOString() }));\n`,
    );
    chmodSync(helper, 0o755);
    const config = path.join(cwd, 'aws-config');
    writeFileSync(
      config,
      `[profile rolesanywhere-kms]\nregion = us-east-1\ncredential_process = ${process.execPath} ${helper}\n`,
    );
    const arn = await secpKey();
    const env = {
      AWS_ENDPOINT_URL: moto.current.endpoint,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: path.join(cwd, 'none'),
      AWS_PROFILE: 'rolesanywhere-kms',
    };
    const s = await connect(
      [
        'mcp',
        '--key-id',
        `kms:${arn}`,
        '--policy',
        writePolicy(cwd),
        '--audit-log',
        path.join(cwd, 'a.jsonl'),
        '--audit-key',
        `kms:${arn}`,
      ],
      env,
      cwd,
    );
    try {
      for (let i = 0; i < 3; i++) {
        expect((await s.call('sign_message', { message: `call ${i}` })).isError).toBe(false);
        await new Promise((r) => setTimeout(r, 2200)); // the credentials have expired
      }
    } finally {
      await s.close();
    }
    expect(readFileSync(counter, 'utf8').length).toBeGreaterThanOrEqual(3);
  });
});
