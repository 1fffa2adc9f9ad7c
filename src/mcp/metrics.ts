// mcp --metrics-port: what the server has done since it started, for Prometheus to scrape: calls
// by tool and decision, denials by the policy rule that denied them, and KMS request latency.
import type { AwsCallObservation } from '../aws/call.js';
import { metricBlock, sampleLine } from '../sys/prometheus.js';
import type { DecisionRecord } from './vault.js';

/** Latency buckets (seconds) around KMS's usual 10-100 ms, up to the SDK's retries. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export class McpMetrics {
  private readonly calls = new Map<string, number>();
  private readonly denials = new Map<string, number>();
  private readonly kms = new Map<string, Histogram>();

  observeDecision(record: Pick<DecisionRecord, 'tool' | 'decision' | 'rule'>): void {
    bump(this.calls, `${record.tool}\u0000${record.decision}`);
    if (record.decision === 'denied') bump(this.denials, record.rule ?? 'unknown');
  }

  observeKms(call: AwsCallObservation): void {
    if (call.durationMs === undefined) return;
    let h = this.kms.get(call.operation);
    if (!h) this.kms.set(call.operation, (h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    const seconds = call.durationMs / 1000;
    BUCKETS.forEach((b, i) => seconds <= b && h!.counts[i]!++);
    h.sum += seconds;
    h.count++;
  }

  text(): string {
    const calls = [...this.calls].map(([key, n]) => {
      const [tool, decision] = key.split('\u0000') as [string, string];
      return sampleLine('agentkeys_mcp_calls_total', { tool, decision }, n);
    });
    const denials = [...this.denials].map(([rule, n]) => sampleLine('agentkeys_mcp_denials_total', { rule }, n));
    const latency = [...this.kms].flatMap(([operation, h]) => [
      ...BUCKETS.map((b, i) =>
        sampleLine('agentkeys_kms_request_duration_seconds_bucket', { operation, le: String(b) }, h.counts[i]!),
      ),
      sampleLine('agentkeys_kms_request_duration_seconds_bucket', { operation, le: '+Inf' }, h.count),
      sampleLine('agentkeys_kms_request_duration_seconds_sum', { operation }, h.sum),
      sampleLine('agentkeys_kms_request_duration_seconds_count', { operation }, h.count),
    ]);
    return `${[
      metricBlock('agentkeys_mcp_calls_total', 'MCP tool calls answered, by tool and decision', 'counter', calls),
      metricBlock('agentkeys_mcp_denials_total', 'Calls the signing policy denied, by rule', 'counter', denials),
      metricBlock('agentkeys_kms_request_duration_seconds', 'KMS request latency, by operation', 'histogram', latency),
    ].join('\n')}\n`;
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
