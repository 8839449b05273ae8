import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../../bench/lib.ts';

/**
 * A TCP proxy on 127.0.0.1 in front of a real service, so a test can make that service "go away" and "come
 * back" (stop/start) without touching the shared server other engineers use.
 */
export type TcpProxy = { port: number; url(scheme: string): string; start(): Promise<void>; stop(): Promise<void>; [Symbol.asyncDispose](): Promise<void> };

export async function tcpProxy(target: { host: string; port: number }, options: { listening?: boolean } = {}): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      if (server) return resolve();
      const s = createServer((client) => {
        const upstream = createConnection({ host: target.host, port: target.port });
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => {});
        }
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const sock of sockets) sock.destroy();
      sockets.clear();
      const s = server;
      server = undefined;
      if (!s) return resolve();
      s.close(() => resolve());
    });
  if (options.listening !== false) await start();
  return { port, url: (scheme) => `${scheme}://127.0.0.1:${port}`, start, stop, [Symbol.asyncDispose]: stop };
}
