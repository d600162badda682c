import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/paths.js';
import { loadConfig } from '../../src/config/index.js';

const unitPath = join(projectRoot, 'deploy/systemd/edgefit.service');
const installSh = join(projectRoot, 'deploy/install.sh');
const addDevice = join(projectRoot, 'deploy/mosquitto/add-device.sh');

/** systemd unit file -> section -> key -> values (a key may repeat) */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) { section = new Map(); out.set(s[1]!, section); continue; }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !section) throw new Error(`not a unit line: ${raw}`);
    section.set(kv[1]!, [...(section.get(kv[1]!) ?? []), kv[2]!]);
  }
  return out;
}

function seconds(v: string): number {
  const m = /^(\d+)(ms|s|min)?$/.exec(v);
  if (!m) throw new Error(`not a duration: ${v}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'min' ? n * 60 : n;
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

// What a clean stop may take: the inference in flight (engine.timeoutMs default), outbox drain, MQTT disconnect
const drainSeconds = (loadConfig({ env: {}, host: { hostname: 't', isRoot: false, home: tmpdir() } }).config.engine.timeoutMs + 2000 + 3000) / 1000;

describe('deploy/systemd/edgefit.service', () => {
  const unit = parseUnit(readFileSync(unitPath, 'utf8'));
  const svc = unit.get('Service')!;
  const one = (k: string) => svc.get(k)?.at(-1);

  it('is a notify service with a watchdog, restarts on failure, and drains within TimeoutStopSec', () => {
    expect(one('Type')).toBe('notify');
    // the READY/WATCHDOG messages come from the systemd-notify child, not the main PID
    expect(one('NotifyAccess')).toBe('all');
    expect(seconds(one('WatchdogSec')!)).toBeGreaterThanOrEqual(10);
    expect(one('Restart')).toBe('on-failure');
    expect(seconds(one('TimeoutStopSec')!)).toBeGreaterThan(drainSeconds);
    // first start profiles the board before READY=1
    expect(seconds(one('TimeoutStartSec')!)).toBeGreaterThanOrEqual(300);
    expect(unit.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('runs as a dedicated user with a state directory, a read-only system and the video group', () => {
    expect(one('User')).toBe('edgefit');
    expect(one('StateDirectory')).toBe('edgefit');
    expect(one('ProtectSystem')).toBe('strict');
    expect(svc.get('ReadWritePaths')).toContain('/var/lib/edgefit');
    expect(one('SupplementaryGroups')).toContain('video');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('MemoryMax')).toMatch(/^\d+[KMG]$/);
    // V8's JIT cannot run with MemoryDenyWriteExecute
    expect(svc.has('MemoryDenyWriteExecute')).toBe(false);
    expect(svc.get('EnvironmentFile')).toEqual(['-/etc/edgefit/env']);
    expect(svc.get('Environment')).toContain('EDGEFIT_STATE_DIR=/var/lib/edgefit');
    expect(one('ExecStart')).toBe('/usr/bin/node /opt/edgefit/bin/edgefit.js run --config /etc/edgefit/config.yaml');
  });

  it.runIf(has('systemd-analyze'))('passes systemd-analyze verify (paths pointed at this checkout)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-unit-'));
    const text = readFileSync(unitPath, 'utf8')
      .replace('/usr/bin/node ', `${process.execPath} `)
      .replaceAll('/opt/edgefit', projectRoot)
      // the user does not exist here; verify would only say so
      .replace(/^(User|Group)=.*$/gm, '');
    const copy = join(dir, 'edgefit.service');
    writeFileSync(copy, text);
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8' });
    // lines about other units on this host (or no systemd as PID 1) are not about ours
    const ours = (r.stderr + r.stdout).split('\n').filter((l) => l.includes('edgefit.service') && !/Failed to .*(bus|connect)/i.test(l));
    expect(ours, ours.join('\n')).toEqual([]);
  });
});

describe('deploy/install.sh', () => {
  it('is valid bash and shellcheck-clean', () => {
    for (const f of [installSh, addDevice]) {
      expect(spawnSync('bash', ['-n', f]).status, f).toBe(0);
      if (has('shellcheck')) {
        const r = spawnSync('shellcheck', [f], { encoding: 'utf8' });
        expect(r.stdout + r.stderr, f).toBe('');
        expect(r.status).toBe(0);
      }
    }
  });

  it('--dry-run prints every planned step and changes nothing', () => {
    const r = spawnSync('bash', [installSh, '--dry-run', '--prefix', join(tmpdir(), 'edgefit-never-created')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    for (const step of ['apt packages', 'Node.js 20', 'service user edgefit', 'npm --prefix', 'ci', 'run build', 'prune --omit=dev', '/var/lib/edgefit', '/etc/edgefit', 'systemctl enable edgefit.service', 'usermod -a -G video']) {
      expect(out, step).toContain(step);
    }
    expect(out).toMatch(/ffmpeg/);
    expect(existsSync(join(tmpdir(), 'edgefit-never-created'))).toBe(false);
  });

  it('refuses unknown options and needs root for a real run', () => {
    expect(spawnSync('bash', [installSh, '--bogus']).status).toBe(2);
    if (process.getuid?.() !== 0) expect(spawnSync('bash', [installSh]).status).toBe(1);
  });

  it('the example configuration it installs is valid', () => {
    const { config } = loadConfig({ file: join(projectRoot, 'deploy/config.example.yaml'), env: {}, host: { hostname: 'pi', isRoot: true, home: '/root' } });
    expect(config.mqtt.prefix).toBe('edgefit');
  });
});

describe('ecosystem.config.js (PM2)', () => {
  it('loads (as ESM and through require, as PM2 does) with the fields PM2 needs', async () => {
    const esm = (await import(join(projectRoot, 'ecosystem.config.js'))) as { apps: Record<string, unknown>[] };
    const cjs = createRequire(import.meta.url)(join(projectRoot, 'ecosystem.config.cjs')) as { apps: Record<string, unknown>[] };
    expect(esm.apps).toEqual(cjs.apps);
    const app = esm.apps[0]!;
    expect(app.script).toBe('bin/edgefit.js');
    expect(existsSync(join(projectRoot, app.script as string))).toBe(true);
    expect((app.args as string[])[0]).toBe('run');
    expect(app.wait_ready).toBe(true);
    expect(app.listen_timeout as number).toBeGreaterThanOrEqual(5 * 60_000);
    expect(app.kill_timeout as number).toBeGreaterThan(drainSeconds * 1000);
    expect(app.exp_backoff_restart_delay as number).toBeGreaterThan(0);
    expect(app.max_memory_restart).toMatch(/^\d+[KMG]$/);
    expect(app.exec_mode).toBe('fork');
  });
});
