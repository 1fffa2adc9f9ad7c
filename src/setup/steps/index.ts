import type { Step } from '../step.js';
import { PREFLIGHT_STEPS } from '../preflight.js';
import { summaryStep } from '../summary.js';
import { eipStep } from './04-eip.js';
import { sesDomainStep } from './05-ses-domain.js';
import { dnsStep } from './06-dns.js';
import { mailBucketStep } from './07-mail-bucket.js';
import { sesReceiptStep } from './08-ses-receipt.js';
import { sesSenderStep } from './09-ses-sender.js';
import { daemonUserStep } from './10-daemon-user.js';
import { dataRoleStep } from './11-data-role.js';
import { sshUserStep } from './12-ssh-user.js';
import { dataClassesStep } from './13-data-classes.js';
import { mailPolicyStep } from './14-mail-policy.js';
import { kmsAuditKeyStep } from './15-kms-audit-key.js';
import { oidcStep } from './17-oidc.js';
import { evmSignerStep } from './18-evm-signer.js';
import { witnessBucketStep } from './19-witness-bucket.js';
import { brokerHostStep } from './20-broker-host.js';
import { auditSigningGrantStep } from './21-audit-signing-grant.js';
import { securityAuditStep } from './22-security-audit.js';
import { alertsStep } from './23-alerts.js';

/**
 * The ordered catalog, in upstream's numbers: 1–3 preflight (report only), 4–14 upstream's changes,
 * 15 the KMS key, 16 the summary (report only), 17 OIDC, 18 the optional EVM signer, 19 the
 * checkpoint witness bucket, 20 the broker host's instance profile and runtime grants, 21 the audit
 * signers' kms:Sign grant, 22 the security audit of every agentkeys principal, 23 the alert topic
 * and the broker host's watch grant.
 */
export const STEPS: readonly Step[] = [
  ...PREFLIGHT_STEPS,
  eipStep,
  sesDomainStep,
  dnsStep,
  mailBucketStep,
  sesReceiptStep,
  sesSenderStep,
  daemonUserStep,
  dataRoleStep,
  sshUserStep,
  dataClassesStep,
  mailPolicyStep,
  kmsAuditKeyStep,
  summaryStep,
  oidcStep,
  evmSignerStep,
  witnessBucketStep,
  brokerHostStep,
  auditSigningGrantStep,
  securityAuditStep,
  alertsStep,
];
