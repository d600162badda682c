import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { EdgefitError } from '../util/errors.js';

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * An MQTT broker inside the daemon (aedes, MQTT 3.1.1) on loopback, for a fresh machine with no broker
 * configured. Port 0 picks a free one; the daemon prints the URL to watch.
 */
export async function startEmbeddedBroker(port = 1883, host = '127.0.0.1'): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new EdgefitError('E_BROKER_PORT', `the embedded MQTT broker cannot listen on ${host}:${port} (${err.code ?? err.message}); another broker may be running there: set mqtt.url to use it, or mqtt.embeddedPort`, { cause: err }));
    });
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return {
    url: `mqtt://${host}:${actual}`,
    port: actual,
    close: () => new Promise<void>((resolve) => {
      broker.close(() => server.close(() => resolve()));
    }),
  };
}
