// The AWS calls `setup` and `teardown` make: one small adapter per service, composed here.
import { createEc2Api, type Ec2Api } from './ec2.js';
import { createIamApi, type IamApi } from './iam.js';
import { createRoute53Api, type Route53Api } from './route53.js';
import { createS3Api, type S3Api } from './s3.js';
import { createServiceContext, type AwsServiceOptions } from './service.js';
import { createSesApi, type SesApi } from './ses.js';
import { createStsApi, type StsApi } from './sts.js';
import { createSnsApi, type SnsApi } from './sns.js';

export type { Address } from './ec2.js';
export type { Change, ResourceRecordSet } from './route53.js';
export type { BucketState, LifecycleRule } from './s3.js';
export type { ReceiptRule } from './ses.js';
export { isMutatingOperation } from './call.js';

/** Setup never sends alerts: SNS as far as the topic and its subscriptions. */
export type SetupSns = Omit<SnsApi, 'publish'>;

export interface SetupAws extends StsApi, Route53Api, Ec2Api, S3Api, SesApi, IamApi, SetupSns {}

export type SetupAwsOptions = AwsServiceOptions;

export function createSetupAws(opts: SetupAwsOptions): SetupAws {
  const ctx = createServiceContext(opts);
  return {
    ...createStsApi(ctx),
    ...createRoute53Api(ctx),
    ...createEc2Api(ctx),
    ...createS3Api(ctx),
    ...createSesApi(ctx),
    ...createIamApi(ctx),
    ...createSnsApi(ctx),
  };
}
