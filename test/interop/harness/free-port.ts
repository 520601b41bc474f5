/** A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it). */
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port from listen(0)');
  return address.port;
}

/**
 * Ironic's start.sh also reserves PORT+1 (`[deploy]http_url`); pick a port whose
 * successor is free too.
 */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    if (port >= 65535) continue;
    const next = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      next.once('error', () => resolve(false));
      next.listen(port + 1, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise<void>((resolve) => next.close(() => resolve()));
      return port;
    }
  }
  throw new Error('no two consecutive free ports on 127.0.0.1');
}
