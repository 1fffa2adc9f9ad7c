// Runs one verification exactly as `agentkeys verify-audit` does and reports time and peak memory.
import { verifyAuditLog } from '../../src/store/verify.js';

const [log, signersPath, workers] = process.argv.slice(2);
const started = process.hrtime.bigint();
const report = await verifyAuditLog({
  log: log!,
  signersPath: signersPath!,
  hmacKeyFiles: {},
  slackMs: 60_000, // verify-audit's default --slack: concurrent writers stamp created_at before the chain lock
  ...(workers !== undefined ? { workers: Number(workers) } : {}),
});
const ms = Number(process.hrtime.bigint() - started) / 1e6;
process.stdout.write(
  JSON.stringify({
    ok: report.ok,
    events: report.events,
    findings: report.findings.length,
    workers: report.workers,
    ms,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  }),
);
