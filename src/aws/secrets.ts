import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsServiceContext } from './service.js';
import { observeCalls } from './call.js';

/** The Secrets Manager calls agentkeys makes: AgentIdP's JWT pair, read and written as one secret. */
export interface SecretsApi {
  /** The secret's current string (AWSCURRENT); undefined when there is no such secret. */
  getSecretString(id: string): Promise<string | undefined>;
  /** A new version that becomes AWSCURRENT (the old one stays as AWSPREVIOUS); its version id. */
  putSecretString(id: string, value: string, token: string): Promise<string>;
}

export function createSecretsApi(ctx: AwsServiceContext): SecretsApi {
  const caller = ctx.caller;
  const sm = observeCalls(new SecretsManagerClient(ctx.config), 'secretsmanager', ctx.onCall);
  return {
    getSecretString: async (id) =>
      (
        await caller.maybe('secretsmanager:GetSecretValue', id, () =>
          sm.send(new GetSecretValueCommand({ SecretId: id })),
        )
      )?.SecretString,
    putSecretString: (id, value, token) =>
      caller.call(
        'secretsmanager:PutSecretValue',
        id,
        // The token makes a retried write the same version, not a second one.
        async () =>
          (await sm.send(new PutSecretValueCommand({ SecretId: id, SecretString: value, ClientRequestToken: token })))
            .VersionId!,
      ),
  };
}
