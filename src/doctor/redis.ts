// PING over RESP, the one Redis exchange doctor needs (no client library for two commands).
import { connect as tcp, type Socket } from 'node:net';
import { connect as tls } from 'node:tls';

const TIMEOUT_MS = 3000;
const command = (...args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** AUTH (when the URL has a password), then PING; resolves with the server's answer to PING. */
export function redisPing(url: string): Promise<string> {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return Promise.reject(new Error('not a redis:// URL'));
  const port = Number(u.port || 6379);
  const socket: Socket =
    u.protocol === 'rediss:'
      ? tls({ host: u.hostname, port, servername: u.hostname })
      : tcp({ host: u.hostname, port });
  const password = decodeURIComponent(u.password);
  const user = decodeURIComponent(u.username);
  const auth = password ? (user ? command('AUTH', user, password) : command('AUTH', password)) : '';
  return new Promise((resolve, reject) => {
    let buffer = '';
    let replies = 0;
    const expected = auth ? 2 : 1;
    const done = (err: Error | undefined, value?: string) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    socket.setTimeout(TIMEOUT_MS, () => done(new Error(`no answer in ${TIMEOUT_MS} ms`)));
    socket.once('error', (err) => done(err));
    socket.once(u.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => socket.write(auth + command('PING')));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let end: number;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line.startsWith('-')) return done(new Error(line.slice(1)));
        if (++replies === expected) return done(undefined, line.replace(/^\+/, ''));
      }
    });
  });
}
