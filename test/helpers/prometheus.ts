// A real Prometheus (Debian's prometheus package) on loopback, scraping one target every second,
// with its own throwaway storage: for tests that see agentkeys' /metrics scraped as in production.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { freePort } from './net.js';

export interface RunningPrometheus {
  url: string;
  /** The instant vector of a PromQL query, once it has any sample (waits up to `ms`). */
  query(expr: string, ms?: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  close(): Promise<void>;
}

export async function startPrometheus(target: string): Promise<RunningPrometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentkeys-prometheus-'));
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: agentkeys\n    static_configs:\n      - targets: ['${target}']\n`,
  );
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const query: RunningPrometheus['query'] = async (expr, ms = 30_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`).catch(() => undefined);
      const body = res?.ok ? ((await res.json()) as { data: { result: [] } }) : undefined;
      if (body && body.data.result.length > 0) return body.data.result;
      if (Date.now() > deadline) throw new Error(`no samples for ${expr} in ${ms} ms; prometheus said: ${stderr}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  return {
    url,
    query,
    close: async () => {
      child.kill();
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
