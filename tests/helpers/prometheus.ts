import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './mosquitto.js';

export const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';

/** Why Prometheus tests cannot run here, or undefined when they can (Debian's prometheus: scripts/test-deps.mjs). */
export function prometheusMissing(): string | undefined {
  return existsSync(PROMETHEUS) ? undefined : `${PROMETHEUS} is missing: apt-get install -y prometheus (scripts/test-deps.mjs does it)`;
}

export interface PromSample { metric: Record<string, string>; value: [number, string] }

/**
 * A real Prometheus on a free loopback port, with its own temporary storage, scraping what `config` says
 * (prometheus.yml text; `dir` is where a test may put a credentials file the config names).
 */
export class Prometheus {
  private proc: ChildProcess | undefined;
  log = '';

  private constructor(readonly port: number, readonly dir: string) {}

  static async start(config: (dir: string) => string): Promise<Prometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-prom-'));
    const p = new Prometheus(await freePort(), dir);
    writeFileSync(join(dir, 'prometheus.yml'), config(dir));
    const proc = spawn(PROMETHEUS, [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${p.port}`, '--storage.tsdb.retention.time=1h', '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => { p.log = (p.log + d.toString()).slice(-20000); });
    p.proc = proc;
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`prometheus exited (${code}): ${p.log}`))));
    // ready once the TSDB is open and the config loaded; polled with a deadline, not slept on
    const until = Date.now() + 60_000;
    const ready = (async () => {
      for (;;) {
        const ok = await fetch(`${p.url}/-/ready`).then((r) => r.ok, () => false);
        if (ok) return;
        if (Date.now() > until) throw new Error(`prometheus not ready after 60 s: ${p.log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await Promise.race([ready, exited]);
    proc.removeAllListeners('exit');
    return p;
  }

  get url(): string { return `http://127.0.0.1:${this.port}`; }

  /** An instant query through the HTTP API; throws with Prometheus's own error on a bad expression. */
  async query(expr: string): Promise<PromSample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
    if (body.status !== 'success') throw new Error(`prometheus refused ${expr}: ${body.error ?? res.status}`);
    return body.data!.resultType === 'vector' ? body.data!.result : [];
  }

  async targets(): Promise<{ labels: Record<string, string>; health: string; lastError: string; scrapePool: string }[]> {
    const body = (await (await fetch(`${this.url}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: { labels: Record<string, string>; health: string; lastError: string; scrapePool: string }[] } };
    return body.data.activeTargets;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p && p.exitCode === null) {
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGTERM');
        setTimeout(() => p.kill('SIGKILL'), 10_000).unref();
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
