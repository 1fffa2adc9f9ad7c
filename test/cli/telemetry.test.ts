// OpenTelemetry (issue 27): with OTEL_EXPORTER_OTLP_ENDPOINT set, a command's spans (the command,
// its AWS calls, verification phases) reach an OTLP/HTTP receiver (a local one: JSON on
// /v1/traces); without it, not one @opentelemetry module is loaded; a receiver that is down never
// fails the command.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { tempDir } from '../helpers/tmp.js';

const moto = useMoto();

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}

async function receiver() {
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const doc = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((r) => server.close(r)) };
}

describe('OpenTelemetry spans', () => {
  it('a KMS command sends its span with the AWS calls as children; verify-audit its phases', async () => {
    const otlp = await receiver();
    try {
      const cwd = tempDir();
      const env = { ...moto.current.env, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: 'agentkeys-test' };
      const created = await runCli(['--json', 'keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', 'alias/otel-1'], {
        cwd,
        env,
      });
      expect(created.code, created.stderr).toBe(0);
      const root = otlp.spans.find((s) => s.name === 'agentkeys keys create');
      expect(root).toBeDefined();
      const createKey = otlp.spans.find((s) => s.name === 'aws kms.CreateKey');
      expect(createKey).toMatchObject({ traceId: root!.traceId, parentSpanId: root!.spanId });
      await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], { cwd });
      await runCli(['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{}'], { cwd });
      const verified = await runCli(['verify-audit', '--log', 'a.jsonl'], { cwd, env });
      expect(verified.code).toBe(0);
      const names = otlp.spans.map((s) => s.name);
      expect(names).toEqual(expect.arrayContaining(['agentkeys verify-audit', 'verify.registry', 'verify.chain']));
    } finally {
      await otlp.close();
    }
  });

  it('a collector that is down never fails the command; unset, nothing of OpenTelemetry loads', async () => {
    const cwd = tempDir();
    await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], { cwd });
    const down = await runCli(
      ['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{}'],
      {
        cwd,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' },
      },
    );
    expect(down.code, down.stderr).toBe(0);
    // The module graph of an ordinary run, as a resolve hook sees it: no @opentelemetry package in it.
    const hook = path.join(cwd, 'hook.mjs');
    const seen = path.join(cwd, 'modules.txt');
    writeFileSync(
      path.join(cwd, 'resolve-hook.mjs'),
      "import { appendFileSync } from 'node:fs';\n" +
        'export async function resolve(spec, ctx, next) {\n' +
        '  const r = await next(spec, ctx);\n' +
        `  appendFileSync(${JSON.stringify(seen)}, r.url + '\\n');\n` +
        '  return r;\n}\n',
    );
    writeFileSync(hook, "import { register } from 'node:module';\nregister('./resolve-hook.mjs', import.meta.url);\n");
    const off = spawnSync(process.execPath, ['--import', hook, '--', CLI, 'verify-audit', '--log', 'a.jsonl'], {
      cwd,
      encoding: 'utf8',
    });
    expect(off.status, off.stderr).toBe(0);
    const modules = readFileSync(seen, 'utf8');
    expect(modules).toContain('/src/audit/verify-source.js');
    expect(modules).not.toContain('@opentelemetry');
  });
});
