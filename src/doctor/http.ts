// The doctor's only network reads outside AWS: HTTPS GETs of the issuer and the TLS certificate it
// serves. node:https and node:tls directly, so the operator's trust store (and NODE_EXTRA_CA_CERTS
// for a private CA) decides, exactly as it will for STS and the broker's clients.
import { connect } from 'node:tls';
import { httpsGet, type HttpsAnswer } from '../sys/https.js';

export type HttpAnswer = HttpsAnswer;

export interface PeerCertificate {
  authorized: boolean;
  authorizationError?: string;
  subject: string;
  altNames: string[];
  validTo: string;
  /** SHA-1 of the DER, 40 lowercase hex digits: what IAM wants as an OIDC provider thumbprint. */
  sha1: string;
}

export interface HttpProbe {
  get(url: string): Promise<HttpAnswer>;
  certificate(url: string): Promise<PeerCertificate>;
}

const TIMEOUT_MS = 5000;

/** `connectTo`: every name is reached at this address (broker probe before DNS points at the host). */
export function httpsProbe(connectTo?: { host: string; port: number }): HttpProbe {
  return {
    get: (url) => httpsGet(url, { timeoutMs: TIMEOUT_MS, ...(connectTo ? { connectTo } : {}) }),
    certificate: (url) =>
      new Promise((resolve, reject) => {
        const u = new URL(url);
        const socket = connect({
          host: connectTo?.host ?? u.hostname,
          port: connectTo?.port ?? Number(u.port || 443),
          servername: u.hostname,
          rejectUnauthorized: false, // read it either way; `authorized` says whether it is trusted
          timeout: TIMEOUT_MS,
        });
        socket.once('secureConnect', () => {
          const cert = socket.getPeerCertificate();
          socket.end();
          resolve({
            authorized: socket.authorized,
            ...(socket.authorizationError ? { authorizationError: String(socket.authorizationError) } : {}),
            subject: [cert.subject?.CN ?? ''].flat()[0] ?? '',
            altNames: (cert.subjectaltname ?? '')
              .split(', ')
              .filter((n) => n.startsWith('DNS:'))
              .map((n) => n.slice(4)),
            validTo: new Date(cert.valid_to).toISOString(),
            sha1: cert.fingerprint.replace(/:/g, '').toLowerCase(),
          });
        });
        socket.once('timeout', () => socket.destroy(new Error(`${url}: no TLS handshake in ${TIMEOUT_MS} ms`)));
        socket.once('error', reject);
      }),
  };
}
