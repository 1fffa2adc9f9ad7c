// Everything a setup run can leave in a moto account, listed with the plain SDK (not our
// adapters), so a test can compare the account before setup and after teardown.
import { EC2 } from '@aws-sdk/client-ec2';
import { IAM } from '@aws-sdk/client-iam';
import { Route53 } from '@aws-sdk/client-route-53';
import { S3 } from '@aws-sdk/client-s3';
import { SES } from '@aws-sdk/client-ses';

export interface AccountSnapshot {
  users: string[];
  roles: string[];
  instanceProfiles: string[];
  profileAssociations: string[];
  oidcProviders: string[];
  buckets: string[];
  emailIdentities: string[];
  ruleSets: string[];
  addresses: string[];
  records: string[];
}

export async function snapshotAccount(zoneId: string, region = 'us-east-1'): Promise<AccountSnapshot> {
  const iam = new IAM({ region });
  const sorted = (xs: (string | undefined)[]) => xs.filter((x): x is string => x !== undefined).sort();
  const ec2 = new EC2({ region });
  const [users, roles, profiles, associations, oidc, buckets, identities, ruleSets, addresses, records] =
    await Promise.all([
      iam.listUsers({}),
      iam.listRoles({}),
      iam.listInstanceProfiles({}),
      ec2.describeIamInstanceProfileAssociations({}),
      iam.listOpenIDConnectProviders({}),
      new S3({ region }).listBuckets({}),
      new SES({ region }).listIdentities({}),
      new SES({ region }).listReceiptRuleSets({}),
      ec2.describeAddresses({}),
      new Route53({ region }).listResourceRecordSets({ HostedZoneId: zoneId }),
    ]);
  return {
    users: sorted((users.Users ?? []).map((u) => u.UserName)),
    roles: sorted((roles.Roles ?? []).map((r) => r.RoleName)),
    instanceProfiles: sorted((profiles.InstanceProfiles ?? []).map((p) => p.InstanceProfileName)),
    profileAssociations: sorted(
      (associations.IamInstanceProfileAssociations ?? [])
        .filter((a) => a.State !== 'disassociated')
        .map((a) => `${a.InstanceId} ${a.IamInstanceProfile?.Arn}`),
    ),
    oidcProviders: sorted((oidc.OpenIDConnectProviderList ?? []).map((p) => p.Arn)),
    buckets: sorted((buckets.Buckets ?? []).map((b) => b.Name)),
    // SES v1's list: moto answers ListEmailIdentities (v2) with an HTML page.
    emailIdentities: sorted(identities.Identities ?? []),
    ruleSets: sorted((ruleSets.RuleSets ?? []).map((r) => r.Name)),
    addresses: sorted((addresses.Addresses ?? []).map((a) => a.AllocationId)),
    records: sorted((records.ResourceRecordSets ?? []).map((r) => `${r.Type} ${r.Name}`)),
  };
}
