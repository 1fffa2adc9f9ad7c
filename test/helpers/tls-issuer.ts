// A real HTTPS OIDC issuer on loopback for doctor's tests: a CA and a leaf certificate for
// localhost made by openssl (the tool an operator would use), served by node:https with the
// discovery document, a JWKS and /healthz (and any file a test puts in state.files). The CLI trusts the CA through NODE_EXTRA_CA_CERTS,
// the way an operator trusts a private CA.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface Issuer {
  url: string;
  caFile: string;
  /** What the routes serve; tests change it to break one thing at a time. */
  state: { issuer?: string; keys: unknown[]; healthz: number; files: Record<string, string>; unhealthy: string[] };
  close(): Promise<void>;
}

function makeCertificates(dir: string, names: string[]): { key: string; cert: string; ca: string } {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '30',
    '-subj',
    '/CN=agentkeys test CA',
  );
  openssl(
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'leaf.key',
    '-out',
    'leaf.csr',
    '-subj',
    `/CN=${names[0]}`,
  );
  writeFileSync(path.join(dir, 'leaf.ext'), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
  openssl(
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'leaf.pem',
    '-days',
    '30',
    '-extfile',
    'leaf.ext',
  );
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  return { key: read('leaf.key'), cert: read('leaf.pem'), ca: path.join(dir, 'ca.pem') };
}

/** `names`: the certificate's names (default localhost); the URL is always https://localhost:PORT. */
export async function startIssuer(names: string[] = ['localhost']): Promise<Issuer> {
  // Its own directory, removed on close: the CA file must outlive the test that started it.
  const dir = mkdtempSync(path.join(tmpdir(), 'agentkeys-issuer-'));
  const { key, cert, ca } = makeCertificates(dir, names);
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const state: Issuer['state'] = {
    keys: [{ ...jwk, kid: 'broker-1', alg: 'ES256', use: 'sig' }],
    healthz: 200,
    files: {},
    unhealthy: [],
  };
  let url = '';
  const server: Server = createServer({ key, cert }, (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration')
      return send(200, { issuer: state.issuer ?? url, jwks_uri: `${state.issuer ?? url}/.well-known/jwks.json` });
    if (req.url === '/.well-known/jwks.json') return send(200, { keys: state.keys });
    if (req.url === '/healthz') {
      const status = state.unhealthy.includes(req.headers.host ?? '') ? 503 : state.healthz;
      return send(status, { ok: status === 200 });
    }
    if (req.url === '/drip') {
      // A slow-drip server: headers at once, then a byte every 300 ms, never idle long enough
      // for an idle timeout.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('x'), 300);
      res.on('close', () => clearInterval(timer));
      return;
    }
    const file = state.files[req.url ?? ''];
    if (file !== undefined) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(file);
    }
    send(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://localhost:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }).then(() => rmSync(dir, { recursive: true, force: true }));
  return { url, caFile: ca, state, close };
}
