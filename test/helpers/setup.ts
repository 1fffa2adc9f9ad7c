// Runs before every test file. No test may ever reach a real AWS account: any endpoint must be
// loopback, and the credentials are dummies.
const endpoint = process.env.AWS_ENDPOINT_URL;
if (endpoint !== undefined && !/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(endpoint)) {
  throw new Error(`tests refuse AWS_ENDPOINT_URL=${endpoint}: only loopback endpoints are allowed`);
}
process.env.AWS_ACCESS_KEY_ID = 'testing';
process.env.AWS_SECRET_ACCESS_KEY = 'testing';
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;
// The signing variables of an operator's shell must not leak into tests.
for (const name of Object.keys(process.env)) {
  if (
    name.startsWith('AUDIT_SIGN') ||
    name === 'REQUIRE_KMS' ||
    name === 'DEV_ALLOW_EPHEMERAL' ||
    name.startsWith('AGENTKEYS_') ||
    name.startsWith('KERNEL_PUBLIC_KEYS') ||
    name.startsWith('VAULT_')
  )
    delete process.env[name];
}
