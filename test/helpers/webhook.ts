// A local alert receiver for the watch and alert tests: records every POST, answers `status`.
import { createServer } from 'node:http';

export interface Webhook {
  url: string;
  received: { path: string; body: string }[];
  close(): Promise<void>;
}

export async function startWebhook(status = 204): Promise<Webhook> {
  const received: Webhook['received'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise((r) => server.close(() => r())) };
}
