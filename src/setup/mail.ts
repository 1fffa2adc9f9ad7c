// The SES verification link for the sender address, found in the newest mails of the inbound bucket
// (step 9 waits for someone to open it). Mail there is untrusted: anyone can write to the domain.
// A link is shown only when it is AWS's own confirmation page for this sender in this stack's
// account, so a mail from someone else cannot get the operator to confirm their identity request.

import type { SetupAws } from '../aws/setup-api.js';
import type { Stack } from '../config/stack.js';

/** How much of a mail is read: verification mails are a few KB. */
export const MAIL_READ_BYTES = 256 * 1024;

/** Quoted-printable soft breaks and =XX escapes, as mail bodies carry long URLs. */
function unfoldQuotedPrintable(text: string): string {
  return text
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

const LINK = /https:\/\/email-verification\.([a-z0-9-]+)\.amazonaws\.com\/\?[^\s"'<>()]+/g;

/**
 * The first link in `mail` that confirms `identity` for `accountId` in `region`, or undefined.
 * SES's links carry the account as Context and the address as Identity.IdentityName.
 */
export function findVerificationLink(
  mail: string,
  want: { accountId: string; identity: string; region: string },
): string | undefined {
  for (const m of unfoldQuotedPrintable(mail).replace(/&amp;/g, '&').matchAll(LINK)) {
    if (m[1] !== want.region) continue;
    let url: URL;
    try {
      url = new URL(m[0]);
    } catch {
      continue;
    }
    const q = url.searchParams;
    if (q.get('Context') !== want.accountId) continue;
    if (q.get('Identity.IdentityName')?.toLowerCase() !== want.identity.toLowerCase()) continue;
    if (q.get('Operation') !== 'ConfirmVerification') continue;
    return url.toString();
  }
  return undefined;
}

/**
 * How many of the newest inbound mails are searched: a few later mails (a bounce, a newsletter)
 * do not hide the link. Anyone can mail the domain, so more than this many can; then the operator
 * opens SES's mail by hand, as before agentkeys (documented).
 */
export const MAILS_SEARCHED = 5;

/** The confirmation link for the stack's sender, from the newest inbound mails; undefined when none. */
export async function senderVerificationLink(
  stack: Pick<Stack, 'mailBucket' | 'accountId' | 'senderAddress' | 'region'>,
  aws: Pick<SetupAws, 'getNewestObjectTexts'>,
): Promise<string | undefined> {
  // Only a hint: a bucket not there yet (or not readable) means no link, not a failed step.
  const mails = await aws
    .getNewestObjectTexts(stack.mailBucket, 'inbound/', MAIL_READ_BYTES, MAILS_SEARCHED)
    .catch(() => []);
  const want = { accountId: stack.accountId, identity: stack.senderAddress, region: stack.region };
  for (const mail of mails) {
    const link = findVerificationLink(mail.text, want);
    if (link) return link;
  }
  return undefined;
}
