import { createServer } from 'node:net';

/** A free TCP port on loopback, for the throwaway servers the tests start. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A base port whose every offset is free now: for a set of services on base + offset. One free
 * port is not enough, since the suite's other servers take ports next to it while it runs.
 */
export async function freePortBase(offsets: number[]): Promise<number> {
  const span = Math.max(...offsets);
  for (let attempt = 0; attempt < 200; attempt++) {
    // Below Linux's ephemeral range (32768+), where the suite's port-0 listeners land.
    const base = 10_000 + Math.floor(Math.random() * (32_000 - span - 10_000));
    const free = await Promise.all(offsets.map((o) => canListen(base + o)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no base port with ${offsets.length} free offsets after 200 tries`);
}
