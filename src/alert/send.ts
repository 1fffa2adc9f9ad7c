// One alert, sent where the operator chose. The message names the failed unit, the host and the
// last lines the unit logged, so the reader knows what broke without logging in first.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AgentkeysError } from '../errors.js';
import type { AlertTarget } from './target.js';

export interface Alert {
  unit: string;
  host: string;
  /** What the unit logged last (already trimmed to a few lines). */
  text: string;
  at: Date;
}

export interface AlertChannels {
  /** SNS Publish (injected: the core never loads the SDK itself). */
  publish(topicArn: string, subject: string, message: string): Promise<string>;
}

export interface Delivery {
  target: AlertTarget['kind'];
  /** The SNS message id, the webhook's HTTP status, or nothing for the journal. */
  receipt: string | null;
}

export async function sendAlert(target: AlertTarget, alert: Alert, channels: AlertChannels): Promise<Delivery> {
  const subject = `agentkeys: ${alert.unit} failed on ${alert.host}`.slice(0, 99); // SNS: under 100
  const body = `${subject} at ${alert.at.toISOString()}\n\n${alert.text}\n`;
  switch (target.kind) {
    case 'journal':
      return { target: 'journal', receipt: null };
    case 'sns':
      return { target: 'sns', receipt: await channels.publish(target.topicArn, subject, body) };
    case 'webhook': {
      const payload = JSON.stringify({
        source: 'agentkeys',
        unit: alert.unit,
        host: alert.host,
        at: alert.at.toISOString(),
        subject,
        text: alert.text,
      });
      return { target: 'webhook', receipt: String(await postJson(target.url, payload)) };
    }
  }
}

const TIMEOUT_MS = 10_000;

/** POSTs once; anything but 2xx is ALERT_DELIVERY_FAILED (systemd then logs it in the journal). */
function postJson(url: string, payload: string): Promise<number> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const fail = (why: string) =>
      reject(
        new AgentkeysError({
          code: 'ALERT_DELIVERY_FAILED',
          message: `the alert webhook ${u.origin} ${why}`,
          hint: 'the alert is still in the journal: journalctl -u agentkeys-alert@*',
        }),
      );
    const req = send(
      u,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(status);
          else fail(`answered HTTP ${status}`);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)));
    req.on('error', (err) => fail(`could not be reached: ${err.message}`));
    req.end(payload);
  });
}
