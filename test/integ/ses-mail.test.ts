// Mail that works (issue 27): SES's confirmation link for the sender address is found in the
// newest inbound mails and shown by setup step 9 and doctor, but only when it is AWS's own page for
// this sender in this account; a mail anyone can send to the domain must not get the operator to
// confirm someone else's identity request. moto never sends the verification mail (nor verifies):
// the test writes one into the inbound bucket as SES's receipt rule would.
import { S3 } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { seedAccount, stackFiles } from '../helpers/setup-harness.js';

const moto = useMoto();

/** A verification mail as SES sends it: quoted-printable, the link folded across lines. */
function verificationMail(account: string, identity: string, host = 'email-verification.us-east-1.amazonaws.com') {
  const link =
    `https://${host}/?Context=${account}&X-Amz-Date=20261206T120000Z&Identity.IdentityName=${encodeURIComponent(identity)}` +
    '&X-Amz-Signature=0123abcd&Namespace=Bacon&Operation=ConfirmVerification';
  const qp = link.replace(/=/g, '=3D').replace(/(.{70})/g, '$1=\r\n');
  return [
    'From: no-reply-aws@amazon.com',
    `To: ${identity}`,
    'Subject: Amazon Web Services – Email Address Verification Request in region US East (N. Virginia)',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'To confirm, click:',
    qp,
    '',
  ].join('\r\n');
}

describe('the sender verification link (setup step 9, doctor ses.sender)', () => {
  it('shows SES’s own link for this sender and account; a forged or foreign one is never shown', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const env = moto.current.env;
    const up = await runCli(['--json', 'setup', '--test', '--yes', '--to-step', '9'], { cwd: files.cwd, env });
    const sender = 'noreply-test@bots-test.litentry.org';
    const bucket = 'agentkeys-mail-test-123456789012';
    expect(JSON.parse(up.stdout).steps.find((s: { id: string }) => s.id === 'ses-sender').hint).toContain(
      '(none in the 5 newest)',
    );
    const s3 = new S3({ region: 'us-east-1', forcePathStyle: true });
    const put = async (key: string, body: string) => {
      await s3.putObject({ Bucket: bucket, Key: `inbound/${key}`, Body: body });
      await new Promise((r) => setTimeout(r, 1100)); // LastModified has one-second resolution
    };
    const hintOf = async () => {
      const r = await runCli(['--json', 'setup', '--test', '--only-step', '9'], { cwd: files.cwd, env });
      return (JSON.parse(r.stdout).steps[0] as { status: string; hint: string }).hint;
    };
    await put('a', verificationMail('123456789012', sender));
    const hint = await hintOf();
    expect(hint).toMatch(
      /^open SES's confirmation link \(from the newest mails under s3:\/\/agentkeys-mail-test-123456789012\/inbound\/\): https:\/\/email-verification\.us-east-1\.amazonaws\.com\/\?Context=123456789012&/,
    );
    expect(hint).toContain('Operation=ConfirmVerification, then: agentkeys setup --test --only-step 9');
    const doctor = await runCli(['--json', 'doctor', '--test'], { cwd: files.cwd, env });
    const check = (JSON.parse(doctor.stdout).checks as { id: string; status: string; fix: string }[]).find(
      (c) => c.id === 'ses.sender',
    );
    expect(check).toMatchObject({ status: 'fail', fix: expect.stringContaining('Context=123456789012') });
    // Someone else's request for our address (their account), and a look-alike host, mailed later:
    // never shown; the real link, a few mails back, still is.
    await put('b', verificationMail('999999999999', sender));
    await put('c', verificationMail('123456789012', sender, 'email-verification.us-east-1.amazonaws.com.evil.example'));
    const later = await hintOf();
    expect(later).toContain('Context=123456789012&');
    expect(later).not.toMatch(/999999999999|evil\.example/);
    // Past the five newest (anyone can mail the domain), the hint says it found none there.
    for (const key of ['d', 'e', 'f', 'g']) await put(key, `Subject: newsletter ${key}\r\n\r\nhello\r\n`);
    expect(await hintOf()).toContain('(none in the 5 newest)');
  }, 120_000);
});
