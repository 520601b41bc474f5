/** Serves one file over HTTP on 127.0.0.1 (GET, HEAD, byte ranges), as an image store would. */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { basename } from 'node:path';

export interface ImageServer {
  url: string;
  requests: number;
  close(): Promise<void>;
}

export async function serveImage(file: string): Promise<ImageServer> {
  const name = basename(file);
  const size = statSync(file).size;
  const state = { requests: 0 };
  const server: Server = createServer((request, response) => {
    state.requests++;
    if (request.url !== `/${name}` || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] ? Number(range[2]) : size - 1;
    if (start >= size) {
      response.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    response.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(end - start + 1),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file, { start, end }).pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/${name}`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
