import { skip, type DoctorCheck } from './check.js';
import { databaseCheck, jwtPairCheck, redisCheck } from './checks/agentidp.js';
import { agentidpEnvCheck, agentidpHealthCheck, agentidpMetricsCheck } from './checks/agentidp-env.js';
import {
  accessKeyAgeCheck,
  accountCheck,
  auditGrantCheck,
  brokerGrantsCheck,
  callerPermissionsCheck,
  credentialsCheck,
  daemonGrantCheck,
  evmGrantCheck,
  leastPrivilegeCheck,
  stackCheck,
  witnessCheck,
} from './checks/aws.js';
import { requireKmsCheck } from './checks/ci.js';
import { checkpointCheck } from './checks/audit.js';
import { isolationCheck } from './checks/isolation.js';
import {
  dnsCheck,
  healthzCheck,
  jwksCheck,
  oidcDiscoveryCheck,
  oidcProviderCheck,
  sesAccountCheck,
  sesDomainCheck,
  sesSenderCheck,
  tlsCheck,
} from './checks/endpoints.js';
import { sshCheck } from './checks/host.js';
import { auditKeyCheck, kmsCostCheck } from './checks/kms.js';

export interface CatalogOptions {
  /** The .pem of the SSH fallback, when the operator has one. */
  pem?: string;
  /** --ci: only the protected-branch guard. */
  ci?: boolean;
  /** --isolation: the tenant-isolation proof too (IAM's policy simulator, several calls per class). */
  isolation?: boolean;
  /** Why no broker host serves HTTPS (the sandbox): its checks are skipped with this reason. */
  noBrokerHost?: string;
}

/** The checks that read what the broker host serves over HTTPS. */
const BROKER_HTTPS_CHECKS: readonly DoctorCheck[] = [oidcDiscoveryCheck, jwksCheck, healthzCheck, tlsCheck];

/** Every check, in the order they are reported; they run as their needs allow. */
export function doctorChecks(opts: CatalogOptions = {}): DoctorCheck[] {
  if (opts.ci) return [requireKmsCheck];
  const all = [
    stackCheck,
    credentialsCheck,
    accountCheck,
    auditKeyCheck,
    kmsCostCheck,
    checkpointCheck,
    callerPermissionsCheck,
    auditGrantCheck,
    witnessCheck,
    brokerGrantsCheck,
    daemonGrantCheck,
    evmGrantCheck,
    leastPrivilegeCheck,
    accessKeyAgeCheck,
    sesDomainCheck,
    sesAccountCheck,
    sesSenderCheck,
    dnsCheck,
    oidcProviderCheck,
    oidcDiscoveryCheck,
    jwksCheck,
    healthzCheck,
    tlsCheck,
    sshCheck(opts.pem),
    databaseCheck,
    redisCheck,
    jwtPairCheck,
    agentidpEnvCheck,
    agentidpHealthCheck,
    agentidpMetricsCheck,
    ...(opts.isolation ? [isolationCheck] : []),
  ];
  const reason = opts.noBrokerHost;
  if (reason === undefined) return all;
  return all.map((c) => (BROKER_HTTPS_CHECKS.includes(c) ? { ...c, run: async () => skip(reason) } : c));
}
