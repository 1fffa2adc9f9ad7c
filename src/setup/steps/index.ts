import type { Step } from '../step.js';
import { toolsStep } from './01-tools.js';
import { envStep } from './02-env.js';
import { callerStep } from './03-caller.js';
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
import { summaryStep } from './16-summary.js';
import { oidcStep } from './17-oidc.js';
import { evmSignerStep } from './18-evm-signer.js';

/** The ordered catalog; numbers 1–14 are upstream's, 15 is the KMS key, 16 the summary, 17 OIDC, 18 the optional EVM signer. */
export const STEPS: readonly Step[] = [
  toolsStep, envStep, callerStep, eipStep, sesDomainStep, dnsStep, mailBucketStep, sesReceiptStep, sesSenderStep,
  daemonUserStep, dataRoleStep, sshUserStep, dataClassesStep, mailPolicyStep, kmsAuditKeyStep, summaryStep, oidcStep, evmSignerStep,
];
