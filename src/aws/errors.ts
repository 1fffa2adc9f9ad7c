import { AgentkeysError, UsageError, type ErrorCode } from '../errors.js';
import { messageOf } from '../sys/operator-file.js';

/** What the operator was doing, so errors can name the permission and the resource. */
export interface AwsCallContext {
  /** IAM action, for example 'kms:Sign'. */
  action: string;
  /** The key id, alias or ARN the call was about. */
  resource?: string;
}

/**
 * Classifies an SDK error by its name, never by guessing from the message: not found, access
 * denied, disabled, throttled (after the SDK's own retries) and credential problems each get a
 * code; anything else keeps its cause.
 */
export function awsError(err: unknown, ctx: AwsCallContext): AgentkeysError {
  if (err instanceof AgentkeysError) return err;
  const name = (err as { name?: string }).name ?? 'Error';
  const detail = messageOf(err) ?? String(err);
  const on = ctx.resource ? ` on ${ctx.resource}` : '';
  const make = (code: ErrorCode, message: string, hint?: string) =>
    new AgentkeysError({ code, message, ...(hint ? { hint } : {}), cause: err });
  switch (name) {
    case 'AccessDeniedException':
    case 'AccessDenied':
    case 'UnauthorizedOperation':
      return make(
        ctx.action.startsWith('kms:') ? 'KMS_ACCESS_DENIED' : 'AWS_ACCESS_DENIED',
        `${ctx.action}${on} was denied: ${detail}`,
        `grant ${ctx.action}${ctx.resource ? ` on ${ctx.resource}` : ''} to the ` +
          `calling principal (agentkeys doctor shows who that is)`,
      );
    case 'NotFoundException':
      return make(
        'KMS_KEY_NOT_FOUND',
        `KMS key ${ctx.resource ?? ''} not found (${ctx.action})`,
        'check the key id, alias or ARN and the region (AWS_REGION / --region)',
      );
    case 'LimitExceeded':
      return make(
        'IAM_QUOTA_EXCEEDED',
        `${ctx.action}${on} hit an IAM quota: ${detail}`,
        ctx.action === 'iam:CreateAccessKey'
          ? 'a user holds at most two access keys: delete an unused one (aws iam list-access-keys)'
          : 'remove what is no longer used, or ask AWS for a higher IAM quota',
      );
    case 'DisabledException':
      return make(
        'KMS_KEY_DISABLED',
        `KMS key ${ctx.resource ?? ''} is disabled`,
        'enable it, or use its successor (agentkeys keys describe)',
      );
    case 'KMSInvalidStateException':
      return make(
        'KMS_KEY_INVALID_STATE',
        `KMS key ${ctx.resource ?? ''} cannot be used now: ${detail}`,
        'a key pending deletion or import cannot sign; agentkeys keys describe shows its state',
      );
    case 'InvalidKeyUsageException':
    case 'UnsupportedOperationException':
      return make(
        'KMS_KEY_WRONG_USAGE',
        `${ctx.action}${on}: ${detail}`,
        'use a key whose KeyUsage fits the operation (SIGN_VERIFY, GENERATE_VERIFY_MAC, ENCRYPT_DECRYPT)',
      );
    case 'ThrottlingException':
    case 'Throttling':
    case 'RequestLimitExceeded':
    case 'SlowDown':
    case 'TooManyRequestsException':
    case 'LimitExceededException':
      return make(
        'AWS_THROTTLED',
        `${ctx.action}${on} was throttled after retries`,
        'retry later or raise the KMS request quota',
      );
    case 'CredentialsProviderError':
      return new UsageError({
        code: 'AWS_CREDENTIALS_MISSING',
        message: `no AWS credentials for ${ctx.action}: ${detail}`,
        hint: 'set AWS_PROFILE / --profile, AWS_ACCESS_KEY_ID, or a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)',
        cause: err,
      });
    case 'UnrecognizedClientException':
    case 'InvalidClientTokenId':
    case 'InvalidSignatureException':
    case 'ExpiredTokenException':
      return make(
        'AWS_CREDENTIALS_INVALID',
        `AWS rejected the credentials for ${ctx.action}: ${detail}`,
        'refresh them (aws sso login, new keys) and retry',
      );
    default:
      if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EAI_AGAIN/.test(detail)) {
        return make(
          'AWS_UNREACHABLE',
          `cannot reach AWS for ${ctx.action}: ${detail}`,
          'check the network, AWS_REGION and AWS_ENDPOINT_URL',
        );
      }
      return make('AWS_CALL_FAILED', `${ctx.action}${on} failed: ${name}: ${detail}`);
  }
}
