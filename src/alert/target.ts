// Where a failed watch reports (ALERT_TARGET in the broker env file): an SNS topic setup made, a
// webhook the operator runs, or the journal only. Parsed strictly: an alert hook that silently
// sends nowhere is worse than none.
import { UsageError } from '../errors.js';

export type AlertTarget = { kind: 'sns'; topicArn: string } | { kind: 'webhook'; url: string } | { kind: 'journal' };

const TOPIC_ARN = /^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** `sns:ARN`, `webhook:URL` (https; http only on loopback) or `journal`. */
export function parseAlertTarget(text: string, where = 'ALERT_TARGET'): AlertTarget {
  const value = text.trim();
  if (value === 'journal' || value === '') return { kind: 'journal' };
  if (value.startsWith('sns:')) {
    const topicArn = value.slice(4);
    if (!TOPIC_ARN.test(topicArn)) throw invalid(where, value, 'not an SNS topic ARN');
    return { kind: 'sns', topicArn };
  }
  if (value.startsWith('webhook:')) {
    let url: URL;
    try {
      url = new URL(value.slice(8));
    } catch {
      throw invalid(where, value, 'not a URL');
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname)))
      throw invalid(where, value, 'not https (plain http only to a loopback address)');
    if (url.username || url.password) throw invalid(where, value, 'carries credentials in the URL');
    return { kind: 'webhook', url: url.toString() };
  }
  throw invalid(where, value, 'is not sns:ARN, webhook:URL or journal');
}

function invalid(where: string, value: string, why: string): UsageError {
  return new UsageError({
    code: 'ALERT_TARGET_INVALID',
    message: `${where} "${value.slice(0, 200)}": ${why}`,
    hint: `${where}=sns:arn:aws:sns:REGION:ACCOUNT:agentkeys-alerts, webhook:https://…, or journal`,
  });
}
