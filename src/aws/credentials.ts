import {
  fromIni,
  fromNodeProviderChain,
  fromTemporaryCredentials,
  fromTokenFile,
  fromWebToken,
} from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

/** How agentkeys finds AWS credentials; everything else is the SDK's standard chain. */
export interface AwsAuthOptions {
  region?: string;
  /** A named profile from ~/.aws/config (SSO, static, process, role profiles). */
  profile?: string;
  /** Assume this role (AssumeRole) on top of the base credentials. */
  roleArn?: string;
  /** Web identity: a token file (the seed's OIDC_TOKEN_PATH) and the role it assumes (KMS_ROLE_ARN). */
  webIdentityTokenFile?: string;
  webIdentityRoleArn?: string;
  /** Web identity from the token itself (OIDC_TOKEN), where no file is mounted. */
  webIdentityToken?: string;
  /** How long an assumed session lasts, in seconds (default 3600: the services' 1-hour limit). */
  sessionSeconds?: number;
  /** Endpoint override for KMS (KMS_ENDPOINT), over the one for every service. */
  kmsEndpoint?: string;
  /** AWS_ENDPOINT_URL, passed to every client (so a caller with its own environment needs no process.env). */
  endpoint?: string;
  /** Explicit static credentials (the sandbox's moto admin), instead of the chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

// One provider per role for the whole process: every client (KMS, IAM, S3, STS…) shares it, so a
// role is assumed once per run and refreshed once, not once per client. The plain chain is read
// afresh for each client (it costs nothing and follows the environment it is given).
const providers = new Map<string, AwsCredentialIdentityProvider>();

/**
 * The standard chain (env, SSO, shared files, web identity from AWS_WEB_IDENTITY_TOKEN_FILE,
 * container and instance metadata), narrowed by the operator's explicit choices.
 */
export function credentialProvider(opts: AwsAuthOptions): AwsCredentialIdentityProvider {
  if (opts.credentials) {
    const credentials = opts.credentials;
    return async () => credentials;
  }
  if (!opts.roleArn && !opts.webIdentityRoleArn) return newProvider(opts);
  const key = JSON.stringify([
    opts.profile,
    opts.roleArn,
    opts.roleArn ? opts.region : undefined,
    opts.webIdentityToken,
    opts.webIdentityTokenFile,
    opts.webIdentityRoleArn,
    opts.sessionSeconds,
  ]);
  let provider = providers.get(key);
  if (!provider) {
    provider = newProvider(opts);
    providers.set(key, provider);
  }
  return provider;
}

function newProvider(opts: AwsAuthOptions): AwsCredentialIdentityProvider {
  const durationSeconds = opts.sessionSeconds ?? 3600;
  if (opts.webIdentityToken && opts.webIdentityRoleArn) {
    return fromWebToken({
      webIdentityToken: opts.webIdentityToken,
      roleArn: opts.webIdentityRoleArn,
      roleSessionName: 'agentkeys',
      durationSeconds,
    });
  }
  if (opts.webIdentityTokenFile && opts.webIdentityRoleArn) {
    return fromTokenFile({
      webIdentityTokenFile: opts.webIdentityTokenFile,
      roleArn: opts.webIdentityRoleArn,
      roleSessionName: 'agentkeys',
      durationSeconds,
    });
  }
  const base = opts.profile ? fromIni({ profile: opts.profile }) : fromNodeProviderChain();
  if (opts.roleArn) {
    return fromTemporaryCredentials({
      masterCredentials: base,
      params: { RoleArn: opts.roleArn, RoleSessionName: 'agentkeys', DurationSeconds: durationSeconds },
      ...(opts.region ? { clientConfig: { region: opts.region } } : {}),
    });
  }
  return base;
}
