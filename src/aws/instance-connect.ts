import { EC2InstanceConnectClient, SendSSHPublicKeyCommand } from '@aws-sdk/client-ec2-instance-connect';
import { fromIni } from '@aws-sdk/credential-providers';
import { credentialProvider, type AwsAuthOptions } from './credentials.js';
import { createCaller } from './call.js';

export interface InstanceConnectOptions extends AwsAuthOptions {
  region: string;
  /** A credentials file written by setup (profile agentkeys-broker[-test]), used when it has the profile. */
  credentialsFile?: string;
}

/** Pushes a public key that sshd on the instance accepts for 60 seconds (ec2-instance-connect:SendSSHPublicKey). */
export async function sendSshPublicKey(
  opts: InstanceConnectOptions,
  instanceId: string,
  osUser: string,
  publicKey: string,
): Promise<void> {
  const credentials =
    opts.credentialsFile && opts.profile
      ? fromIni({ profile: opts.profile, filepath: opts.credentialsFile })
      : credentialProvider(opts);
  const client = new EC2InstanceConnectClient({
    region: opts.region,
    credentials,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  });
  await createCaller().call('ec2-instance-connect:SendSSHPublicKey', instanceId, async () => {
    const out = await client.send(
      new SendSSHPublicKeyCommand({ InstanceId: instanceId, InstanceOSUser: osUser, SSHPublicKey: publicKey }),
    );
    if (out.Success === false) throw new Error('SendSSHPublicKey answered Success=false');
  });
}
