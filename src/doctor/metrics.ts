// doctor's findings as Prometheus gauges, in the text format node_exporter's textfile collector
// reads (one file, replaced atomically): every check's status, how long it took, and the numbers
// the checks measured (key age, days of certificate left, access key age, the chain's size).
import type { DoctorReport } from './run.js';
import type { Metric } from './check.js';
import { metricBlock, sampleLine } from '../sys/prometheus.js';

const HELP: Record<string, string> = {
  agentkeys_doctor_healthy: '1 when no doctor check failed (warnings allowed)',
  agentkeys_doctor_check_status: "1 for each check's status (ok, warn, fail, skip)",
  agentkeys_doctor_check_duration_seconds: 'How long each doctor check took',
  agentkeys_doctor_last_run_timestamp_seconds: 'When doctor last ran (Unix time)',
  agentkeys_audit_key_age_seconds: 'Age of the audit-signing KMS key (whole days)',
  agentkeys_tls_certificate_expiry_timestamp_seconds: "When the issuer's TLS certificate expires (Unix time)",
  agentkeys_access_key_age_seconds: "Age of each of setup's IAM access keys",
  agentkeys_audit_log_events: 'Events in the audit chain doctor measured (--log)',
  agentkeys_audit_checkpoint_age_seconds: 'Age of the newest checkpoint of the audit chain (--log)',
  agentkeys_audit_uncheckpointed_events: 'Events of the audit chain no checkpoint covers yet (--log)',
  agentkeys_kms_sign_requests_per_second: "KMS Sign requests per second at the chain's measured rate",
};

/** `# HELP`/`# TYPE` once per name, then its samples; label values escaped as the format asks. */
export function prometheusText(report: DoctorReport, at: Date): string {
  const samples: Metric[] = [
    { name: 'agentkeys_doctor_healthy', value: report.healthy ? 1 : 0 },
    { name: 'agentkeys_doctor_last_run_timestamp_seconds', value: Math.floor(at.getTime() / 1000) },
  ];
  for (const c of report.checks) {
    for (const status of ['ok', 'warn', 'fail', 'skip'] as const)
      samples.push({
        name: 'agentkeys_doctor_check_status',
        labels: { check: c.id, group: c.group, status },
        value: c.status === status ? 1 : 0,
      });
    samples.push({
      name: 'agentkeys_doctor_check_duration_seconds',
      labels: { check: c.id },
      value: c.durationMs / 1000,
    });
    samples.push(...(c.metrics ?? []));
  }
  const names = [...new Set(samples.map((s) => s.name))];
  const block = (name: string) =>
    metricBlock(
      name,
      HELP[name] ?? name,
      'gauge',
      samples.filter((s) => s.name === name).map((s) => sampleLine(name, s.labels, s.value)),
    );
  return `${names.map(block).join('\n')}\n`;
}
