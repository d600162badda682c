import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function mosquittoPath(): string {
  for (const p of ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto']) if (existsSync(p)) return p;
  throw new Error('mosquitto is not installed: apt-get install mosquitto (.ci/run does it)');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A real mosquitto on a free loopback port, restartable on the same port for outage tests. */
export class Mosquitto {
  private proc: ChildProcess | undefined;
  readonly dir: string;
  log = '';

  private constructor(readonly port: number, readonly extraConf: string, readonly persist: boolean) {
    this.dir = mkdtempSync(join(tmpdir(), 'edgefit-mosq-'));
  }

  /** A broker that refuses anonymous clients and knows one user, `cam` with password `right-password`. */
  static async withUser(): Promise<Mosquitto> {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-mosq-users-'));
    const pw = join(dir, 'passwd');
    writeFileSync(pw, '');
    execFileSync('mosquitto_passwd', ['-b', pw, 'cam', 'right-password']);
    // mosquitto started as root drops to its own user, which must be able to read the file
    chmodSync(dir, 0o755);
    chmodSync(pw, 0o644);
    return Mosquitto.start(`allow_anonymous false\npassword_file ${pw}\n`);
  }

  /** `persist`: sessions and queued messages survive a stop('SIGTERM') and start() (mosquitto saves its db on exit) */
  static async start(extraConf = 'allow_anonymous true\n', opts: { persist?: boolean } = {}): Promise<Mosquitto> {
    const m = new Mosquitto(await freePort(), extraConf, opts.persist ?? false);
    await m.start();
    return m;
  }

  get url(): string { return `mqtt://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    const conf = join(this.dir, 'mosquitto.conf');
    const persistence = this.persist ? `persistence true\npersistence_location ${this.dir}/\n` : 'persistence false\n';
    // Started as root (CI), mosquitto drops to the `mosquitto` user and can then no longer write its database into
    // this root-owned 0700 directory: "persistence true" would lose every session on restart, saying so only in its
    // log. Stay root, and stop() checks that the save really happened.
    const user = process.getuid?.() === 0 ? 'user root\n' : '';
    writeFileSync(conf, `listener ${this.port} 127.0.0.1\n${user}${persistence}log_dest stderr\n${this.extraConf}`);
    const p = spawn(mosquittoPath(), ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.on('data', (d: Buffer) => { this.log = (this.log + d.toString()).slice(-20000); });
    this.proc = p;
    await waitForPort(this.port);
  }

  /** SIGKILL by default (a crash); SIGTERM lets a persistent broker save its sessions */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
    if (this.persist && signal === 'SIGTERM' && /Error saving/i.test(this.log)) {
      throw new Error(`mosquitto could not save its sessions, so a restart would lose them:\n${this.log.slice(-2000)}`);
    }
  }

  pause(): void { this.proc?.kill('SIGSTOP'); }
  resume(): void { this.proc?.kill('SIGCONT'); }
}
