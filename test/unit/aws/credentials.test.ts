// One credential provider per role and run (issue 25): every client of a run shares it, so a role
// is assumed once, not once per client. The plain chain is not shared (it follows its environment).
import { describe, expect, it } from 'vitest';
import { credentialProvider } from '../../../src/aws/credentials.js';

describe('credentialProvider', () => {
  it('hands every client of a run the same provider for one role, another for another role', () => {
    const role = { roleArn: 'arn:aws:iam::123456789012:role/a', region: 'us-east-1' };
    expect(credentialProvider({ ...role })).toBe(credentialProvider({ ...role, kmsEndpoint: 'http://x' }));
    expect(credentialProvider(role)).not.toBe(
      credentialProvider({ ...role, roleArn: 'arn:aws:iam::123456789012:role/b' }),
    );
    const web = { webIdentityTokenFile: '/t', webIdentityRoleArn: 'arn:aws:iam::123456789012:role/w' };
    expect(credentialProvider(web)).toBe(credentialProvider({ ...web }));
    expect(credentialProvider({})).not.toBe(credentialProvider({}));
  });
});
