import type { DoctorCheck } from './check.js';
import { databaseCheck, jwtPairCheck, redisCheck } from './checks/agentidp.js';
import {
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
import {
  dnsCheck,
  healthzCheck,
  jwksCheck,
  oidcDiscoveryCheck,
  oidcProviderCheck,
  sesDomainCheck,
  tlsCheck,
} from './checks/endpoints.js';
import { sshCheck } from './checks/host.js';
import { auditKeyCheck, kmsCostCheck } from './checks/kms.js';

export interface CatalogOptions {
  /** The .pem of the SSH fallback, when the operator has one. */
  pem?: string;
  /** --ci: only the protected-branch guard. */
  ci?: boolean;
}

/** Every check, in the order they are reported; they run as their needs allow. */
export function doctorChecks(opts: CatalogOptions = {}): DoctorCheck[] {
  if (opts.ci) return [requireKmsCheck];
  return [
    stackCheck,
    credentialsCheck,
    accountCheck,
    auditKeyCheck,
    kmsCostCheck,
    callerPermissionsCheck,
    auditGrantCheck,
    witnessCheck,
    brokerGrantsCheck,
    daemonGrantCheck,
    evmGrantCheck,
    leastPrivilegeCheck,
    sesDomainCheck,
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
  ];
}
