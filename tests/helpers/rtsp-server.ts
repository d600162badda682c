import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from './mosquitto.js';

const SCRIPT = fileURLToPath(new URL('./rtsp-server.py', import.meta.url));
// Debian's interpreter: python3-gi is a Debian package, invisible to a pyenv or venv python3 earlier on PATH
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const READY_MS = 30_000;

export interface RtspServerOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** default: a free loopback port */
  port?: number;
}

export interface RtspServer {
  /** rtsp://127.0.0.1:PORT/cam, the same across restart() */
  url: string;
  /** kills the server's process group (an outage as a camera losing power: no RTSP TEARDOWN) */
  stop(): Promise<void>;
  /** starts it again on the same port and path */
  restart(): Promise<void>;
}

/**
 * A real RTSP camera on loopback: GStreamer's RTSP server streaming videotestsrc as H.264, restartable on the
 * same URL for outage tests. Ready means the script said so AND the port accepts connections.
 */
export async function startRtspServer(opts: RtspServerOptions = {}): Promise<RtspServer> {
  const width = opts.width ?? 320;
  const height = opts.height ?? 240;
  const fps = opts.fps ?? 15;
  for (const [k, v] of Object.entries({ width, height, fps })) {
    if (!Number.isInteger(v) || v < 1 || v > 4096) throw new RangeError(`startRtspServer: ${k} must be an integer in [1, 4096], got ${v}`);
  }
  const port = opts.port ?? (await freePort());
  const path = '/cam';
  let proc: ChildProcess | undefined;
  let log = '';

  async function start(): Promise<void> {
    if (proc) throw new Error('the RTSP server is running already');
    // its own process group: stop() takes down the interpreter and anything it spawned in one kill
    const p = spawn(PYTHON, [SCRIPT, String(port), path, String(width), String(height), String(fps)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    proc = p;
    p.stderr!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-20_000); });
    const lines = createInterface({ input: p.stdout! });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the RTSP server said nothing within ${READY_MS} ms:\n${log}`)), READY_MS);
        const done = (err?: Error): void => {
          clearTimeout(timer);
          p.off('exit', onExit);
          lines.off('line', onLine);
          if (err) reject(err); else resolve();
        };
        const onLine = (line: string): void => { if (line.startsWith('RTSP READY ')) done(); };
        const onExit = (code: number | null, sig: string | null): void =>
          done(new Error(`the RTSP server exited (${code ?? sig}) before it was ready (its packages: node scripts/test-deps.mjs):\n${log}`));
        lines.on('line', onLine);
        p.once('exit', onExit);
        p.once('error', (err) => done(err));
      });
      await waitForPort(port, READY_MS);
    } catch (err) {
      await stop();
      throw err;
    }
  }

  async function stop(): Promise<void> {
    const p = proc;
    proc = undefined;
    if (!p || p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      p.kill('SIGKILL');
    }
    await exited;
  }

  await start();
  return {
    url: `rtsp://127.0.0.1:${port}${path}`,
    stop,
    async restart() {
      await stop();
      await start();
    },
  };
}
