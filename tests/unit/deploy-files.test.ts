import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { projectRoot } from '../../src/util/paths.js';
import { loadConfig } from '../../src/config/index.js';
import { pulledState, fastProfile } from '../helpers/daemon.js';

const unitPath = join(projectRoot, 'deploy/systemd/edgefit.service');
const dropInDir = join(projectRoot, 'deploy/systemd/edgefit.service.d');
const launcher = join(projectRoot, 'bin/edgefit-notify-exec');
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
const systemdVersion = has('systemd-analyze') ? Number(/systemd (\d+)/.exec(spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? 0) : 0;
// python3-seccomp (Debian) applies a unit's system call filter without systemd as PID 1
const hasSeccomp = spawnSync('/usr/bin/python3', ['-c', 'import seccomp'], { stdio: 'ignore' }).status === 0;

/** The unit (and its drop-ins) in a fresh directory, paths pointed at this checkout, for systemd-analyze. */
function unitCopy(dropIns: string[], opts: { keepUser?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-unit-'));
  let text = readFileSync(unitPath, 'utf8')
    .replace('/usr/bin/node ', `${process.execPath} `)
    .replaceAll('/opt/edgefit', projectRoot);
  // the user does not exist here; verify would only say so (security rates it, so it stays for that)
  if (!opts.keepUser) text = text.replace(/^(User|Group)=.*$/gm, '');
  writeFileSync(join(dir, 'edgefit.service'), text);
  if (dropIns.length > 0) {
    mkdirSync(join(dir, 'edgefit.service.d'));
    for (const d of dropIns) cpSync(join(dropInDir, d), join(dir, 'edgefit.service.d', d));
  }
  return join(dir, 'edgefit.service');
}

/** Every system call of a systemd group, its nested groups expanded (as `systemd-analyze syscall-filter` lists them). */
function syscallGroup(group: string): string[] {
  const groups = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of spawnSync('systemd-analyze', ['syscall-filter'], { encoding: 'utf8' }).stdout.split('\n')) {
    if (line.startsWith('@')) { cur = []; groups.set(line.trim(), cur); continue; }
    const name = line.trim().split(/\s/)[0];
    if (cur && name && !name.startsWith('#')) cur.push(name);
  }
  const expand = (g: string): string[] => (groups.get(g) ?? []).flatMap((x) => (x.startsWith('@') ? expand(x) : [x]));
  return [...new Set(expand(group))].sort();
}

// What a clean stop may take: the inference in flight (engine.timeoutMs default), outbox drain, MQTT disconnect
const drainSeconds = (loadConfig({ env: {}, host: { hostname: 't', isRoot: false, home: tmpdir() } }).config.engine.timeoutMs + 2000 + 3000) / 1000;

describe('deploy/systemd/edgefit.service', () => {
  const unit = parseUnit(readFileSync(unitPath, 'utf8'));
  const svc = unit.get('Service')!;
  const one = (k: string) => svc.get(k)?.at(-1);

  it('is a notify service with a watchdog, restarts on failure, and drains within TimeoutStopSec', () => {
    expect(one('Type')).toBe('notify');
    // READY/WATCHDOG/STOPPING come from the main PID itself, through the socket bin/edgefit-notify-exec hands it
    expect(one('NotifyAccess')).toBe('main');
    expect(one('ExecStart')!.split(' ')[0]).toBe('/opt/edgefit/bin/edgefit-notify-exec');
    accessSync(launcher, constants.X_OK);
    expect(spawnSync('perl', ['-c', launcher], { encoding: 'utf8' }).status).toBe(0);
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
    expect(one('ExecStart')).toBe('/opt/edgefit/bin/edgefit-notify-exec /usr/bin/node /opt/edgefit/bin/edgefit.js run --config /etc/edgefit/config.yaml');
  });

  it('hides kernel logs, the host name and other users\' processes; filters system calls; closes devices but the cameras\'', () => {
    expect(one('ProtectKernelLogs')).toBe('yes');
    expect(one('ProtectHostname')).toBe('yes');
    expect(one('ProtectProc')).toBe('invisible');
    expect(svc.get('SystemCallFilter')).toEqual(['@system-service']);
    // a call outside the list fails instead of killing the daemon (V8 probes pkey_alloc)
    expect(one('SystemCallErrorNumber')).toBe('EPERM');
    expect(one('DevicePolicy')).toBe('closed');
    expect(svc.get('DeviceAllow')).toEqual(['char-video4linux rw', 'char-media rw', 'char-dma_heap rw']);
    // /dev stays visible: PrivateDevices would hide the cameras
    expect(svc.has('PrivateDevices')).toBe(false);
  });

  it('board drop-ins: the Pi firmware nodes for vcgencmd, the Jetson GPU nodes for CUDA; nothing else', () => {
    expect(readdirSync(dropInDir).sort()).toEqual(['jetson.conf', 'raspberrypi.conf']);
    const pi = parseUnit(readFileSync(join(dropInDir, 'raspberrypi.conf'), 'utf8'));
    expect([...pi.keys()]).toEqual(['Service']);
    expect(pi.get('Service')!.get('DeviceAllow')).toEqual(['/dev/vchiq rw', '/dev/vcio rw']);
    const jetson = parseUnit(readFileSync(join(dropInDir, 'jetson.conf'), 'utf8'));
    expect([...jetson.keys()]).toEqual(['Service']);
    expect([...jetson.get('Service')!.keys()]).toEqual(['DeviceAllow']);
    const nodes = jetson.get('Service')!.get('DeviceAllow')!;
    for (const n of ['/dev/nvmap rw', '/dev/nvhost-ctrl-gpu rw', '/dev/nvhost-gpu rw', '/dev/nvgpu/igpu0/ctrl rw', 'char-drm rw']) expect(nodes).toContain(n);
    // the GPU nodes edgefit doctor looks for are all allowed
    for (const n of ['/dev/nvhost-ctrl-gpu', '/dev/nvhost-gpu']) expect(nodes).toContain(`${n} rw`);
    expect(nodes.every((n) => /^(\/dev\/[\w/.-]+|char-[\w*]+) rw$/.test(n))).toBe(true);
  });

  it.runIf(has('systemd-analyze'))('passes systemd-analyze verify, with each board drop-in (paths pointed at this checkout)', () => {
    for (const dropIns of [[], ['raspberrypi.conf'], ['jetson.conf']]) {
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', unitCopy(dropIns)], { encoding: 'utf8' });
      // lines about other units on this host (or no systemd as PID 1) are not about ours
      const ours = (r.stderr + r.stdout).split('\n').filter((l) => (l.includes('edgefit.service') || l.includes('.conf:')) && !/Failed to .*(bus|connect)/i.test(l));
      expect(ours, `${dropIns.join(',')}: ${ours.join('\n')}`).toEqual([]);
    }
  });

  it.runIf(systemdVersion >= 250)('has the `systemd-analyze security` exposure docs/deploy.md records', () => {
    const docs = readFileSync(join(projectRoot, 'docs/deploy.md'), 'utf8');
    const recorded = /exposure level[^\n]*?(\d+\.\d)/.exec(docs);
    expect(recorded, 'docs/deploy.md names the exposure level').not.toBeNull();
    for (const dropIns of [[], ['raspberrypi.conf'], ['jetson.conf']]) {
      const dir = dirname(unitCopy(dropIns, { keepUser: true }));
      const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', 'edgefit.service'], { cwd: dir, encoding: 'utf8' });
      const level = /Overall exposure level for edgefit\.service: (\d+\.\d)/.exec(r.stdout + r.stderr)?.[1];
      expect(level, r.stdout + r.stderr).toBe(recorded![1]);
    }
  });

  it.runIf(hasSeccomp && systemdVersion > 0)('the daemon runs under the unit\'s system call filter (applied with seccomp as systemd would)', async () => {
    const allowed = join(mkdtempSync(join(tmpdir(), 'edgefit-seccomp-')), 'allowed.txt');
    writeFileSync(allowed, syscallGroup(one('SystemCallFilter')!).join('\n'));
    const errno = one('SystemCallErrorNumber') ?? 'kill';
    const state = await pulledState(['mobilenet_v1-0.25-128-int8']);
    // a fresh profile (profiler children), ffmpeg, the embedded broker, then a clean stop: all under the filter
    const d = spawn('/usr/bin/python3', [join(projectRoot, 'tests/helpers/seccomp-exec.py'), allowed, errno, launcher, process.execPath, join(projectRoot, 'bin/edgefit.js'), 'run',
      '--json', '--state-dir', state, '--device-id', 'seccomp-1', '--camera', 'lavfi:testsrc2=size=320x240:rate=10', ...fastProfile], {
      cwd: projectRoot, env: { ...process.env, EDGEFIT_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    d.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    d.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    const exit = new Promise<[number | null, string | null]>((r) => d.on('exit', (c, sig) => r([c, sig])));
    const end = Date.now() + 120_000;
    while (out.split('\n').filter((l) => l.startsWith('{')).length < 5 && d.exitCode === null && d.signalCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    if (d.exitCode === null && d.signalCode === null) d.kill('SIGTERM');
    const [code, signal] = await exit;
    expect(out.split('\n').filter((l) => l.startsWith('{')).length, err.slice(-2000)).toBeGreaterThanOrEqual(5);
    expect([code, signal], err.slice(-2000)).toEqual([0, null]);
  }, 180_000);
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
    for (const step of ['apt packages', 'Node.js 20', 'service user edgefit', 'npm --prefix', 'ci', 'run build', 'prune --omit=dev', '/var/lib/edgefit', '/etc/edgefit', 'systemctl enable edgefit.service', 'usermod -a -G video', 'systemd drop-in']) {
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

  it('is in the npm package with the file it loads', () => {
    // what `npm pack` would put in the tarball (no scripts run, nothing written)
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: projectRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = new Set((JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
    expect(files.has('ecosystem.config.js')).toBe(true);
    expect(files.has('ecosystem.config.cjs')).toBe(true);
  });
});
