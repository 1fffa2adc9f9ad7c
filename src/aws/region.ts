// Apart from kms.ts so that naming the default region never loads the KMS SDK.
export const DEFAULT_REGION = 'us-east-1';
