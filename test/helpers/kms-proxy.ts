// A real HTTP server between the SDK and moto that can throttle or drop KMS requests, for the
// behaviours moto does not model (ThrottlingException, an outage). Everything else passes through.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KmsProxy {
  endpoint: string;
  /** Answer the next n Sign requests with ThrottlingException. */
  throttleSigns(n: number): void;
  /** true: every request fails (HTTP 503); false: pass through again. */
  setDown(down: boolean): void;
  /** Every request signed for this region fails (HTTP 503), as in a regional outage; undefined: none. */
  setRegionDown(region: string | undefined): void;
  /** true: Decrypt answers AccessDeniedException, as for a caller without kms:Decrypt (moto enforces no key policy). */
  denyDecrypts(deny: boolean): void;
  counts: { sign: number; throttled: number; refused: number };
  close(): Promise<void>;
}

export async function startKmsProxy(upstream: string): Promise<KmsProxy> {
  let throttle = 0;
  let down = false;
  let denyDecrypt = false;
  let regionDown: string | undefined;
  const counts = { sign: 0, throttled: 0, refused: 0 };
  const target = new URL(upstream);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const op = String(req.headers['x-amz-target'] ?? '');
    // SigV4 names the region in the credential scope: Credential=AKID/20261206/us-east-1/kms/aws4_request.
    const regionIsDown =
      regionDown !== undefined && String(req.headers.authorization ?? '').includes(`/${regionDown}/kms/`);
    if (down || regionIsDown) {
      counts.refused++;
      res
        .writeHead(503, { 'content-type': 'application/x-amz-json-1.1' })
        .end(JSON.stringify({ __type: 'KMSInternalException', message: 'simulated outage' }));
      req.resume();
      return;
    }
    if (denyDecrypt && op === 'TrentService.Decrypt') {
      res
        .writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'AccessDeniedException' })
        .end(JSON.stringify({ __type: 'AccessDeniedException', message: 'not authorized to perform: kms:Decrypt' }));
      req.resume();
      return;
    }
    if (op === 'TrentService.Sign') {
      counts.sign++;
      if (throttle > 0) {
        throttle--;
        counts.throttled++;
        res
          .writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException' })
          .end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
        req.resume();
        return;
      }
    }
    const forward = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    throttleSigns: (n) => {
      throttle = n;
    },
    setDown: (d) => {
      down = d;
    },
    setRegionDown: (r) => {
      regionDown = r;
    },
    denyDecrypts: (d) => {
      denyDecrypt = d;
    },
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
