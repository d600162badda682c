import { isAbsolute, relative } from 'node:path';
import type { DoctorReport } from './doctor.js';
import { throttleFlags } from './thermal.js';
import type { PiThrottle } from './types.js';

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

/** The human-readable doctor report: facts first, then advice, worst first. */
export function renderDoctor(r: DoctorReport): string {
  const d = r.device;
  const b = d.board;
  const lines: string[] = [];
  const row = (k: string, v: string): void => {
    lines.push(`  ${pad(k, 11)} ${v}`);
  };
  lines.push(`edgefit doctor: ${b.model ?? 'no device-tree model'} (${b.kind})${d.root === '/' ? '' : `, recorded tree ${shortPath(d.root)}`}`);
  const jet = b.jetson ? `, L4T ${b.jetson.l4t} = JetPack ${b.jetson.jetpack ?? '?'}` : '';
  row('os', `${b.os.prettyName ?? b.os.id ?? 'unknown'}, kernel ${b.kernel ?? '?'}, ${b.arch}, glibc ${b.glibc ?? '?'}${jet}`);
  const midr = d.cpu.part ? ` (part ${d.cpu.part})` : '';
  row('cpu', `${d.cpu.cores}x ${d.cpu.model}${midr}${d.cpu.maxMhz ? ` @ ${d.cpu.maxMhz} MHz` : ''}${d.cpu.quotaCores !== undefined ? `; a cgroup CPU quota leaves ${d.cpu.quotaCores}` : ''}`);
  const m = d.memory;
  const cg = m.cgroup
    ? `, cgroup v${m.cgroup.version} ${m.cgroup.limitMb === null ? 'no limit' : `limit ${Math.round(m.cgroup.limitMb)} MB`}`
    : '';
  row('memory', `${Math.round(m.totalMb)} MB total, ${Math.round(m.availableMb)} MB available${cg} -> ${Math.round(m.effectiveMb)} MB for edgefit`);
  const zones = d.thermal.zones.map((z) => `${z.type} ${z.tempC} °C`);
  row('thermal', zones.length > 0 ? zones.join(', ') : 'no thermal zones');
  const th = d.thermal.throttle;
  if (th) {
    const names = (o: PiThrottle['now']): string => throttleFlags(o).join(', ') || 'none';
    row('throttled', `${th.raw}: now ${names(th.now)}; since boot ${names(th.sinceBoot)}`);
  }
  const p = d.providers;
  const prov = p.status === 'skipped' ? 'not probed' : p.status === 'unavailable' ? `onnxruntime unavailable` : `${p.usable.join(', ') || 'none'} proven (listed: ${p.listed.map((x) => x.name).join(', ')})${p.status === 'simulated' ? ' [simulated]' : ''}`;
  row('providers', prov);
  row('fingerprint', r.fingerprint);

  lines.push('', 'CPU features (int8):');
  for (const f of d.cpu.features) lines.push(`  ${pad(f.name, 12)} ${pad(f.present ? 'yes' : 'no', 4)} ${f.meaning}`);

  lines.push('', 'Advice:');
  const order = { warn: 0, info: 1, ok: 2 } as const;
  const sorted = [...r.advice].sort((a, b2) => order[a.level] - order[b2.level]);
  for (const a of sorted) lines.push(`  ${pad(`[${a.level}]`, 6)} ${pad(a.area, 8)} ${a.text}`);
  return lines.join('\n') + '\n';
}

/** A recorded tree below the working directory is shown relative to it, so quoted reports carry no local paths. */
function shortPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}
