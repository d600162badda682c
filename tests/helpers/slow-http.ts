import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface TestHttpServer {
  url: string;
  /** request paths in arrival order */
  requests: string[];
  /** sockets still open (a pull that was killed closes its own) */
  readonly open: number;
  close(): Promise<void>;
}

/**
 * An HTTP server on 127.0.0.1. Default handler: a "slow mirror" that answers 200 with a large Content-Length
 * and then one byte per `dripMs`, so a transfer never ends while the server looks alive.
 */
export async function startHttpServer(handler?: (req: IncomingMessage, res: ServerResponse) => void, dripMs = 500): Promise<TestHttpServer> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const drip = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(100_000) });
    const t = setInterval(() => { if (!res.destroyed) res.write(Buffer.from([0])); }, dripMs);
    timers.add(t);
    res.on('close', () => { clearInterval(t); timers.delete(t); });
  };
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    (handler ?? drip)(req, res);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    get open() { return sockets.size; },
    close: () => new Promise<void>((resolve) => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
