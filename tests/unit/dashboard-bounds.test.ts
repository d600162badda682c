import { afterAll, describe, expect, it } from 'vitest';
import { loadRecording } from '../helpers/recorded-device.js';
import { BoundedWorker, type Outcome } from '../helpers/bounded-worker.js';
import { badCoordinates } from '../helpers/svg-checks.js';
import { EXTREME_NUMBERS, ODD_TEXT, mutate, numbersIn, oddBytes, rng, type Json } from '../helpers/hostile.js';
import { validateMessage } from '../../src/dashboard/validate.js';

/**
 * Issue 14, section 3: one device must not be able to take down the fleet dashboard. Every number a device
 * sends is bounded by the published schemas and checked at ingest, and the chart ends whatever it is given.
 * Everything that could hang runs in a worker with a time bound (BoundedWorker), so a hang fails a test.
 */
const rec = loadRecording();
const DEV = 'dev-1';
const base: Record<'status' | 'model' | 'telemetry' | 'result' | 'event', Json> = {
  status: { ...rec.status, deviceId: DEV } as unknown as Json,
  model: { ...rec.model, session: 1, deviceId: DEV } as unknown as Json,
  telemetry: { ...rec.telemetry[0]!.payload, deviceId: DEV } as unknown as Json,
  result: { ...rec.results[0]!.payload, deviceId: DEV } as unknown as Json,
  event: { deviceId: DEV, session: 1, seq: 3, ts: new Date(0).toISOString(), type: 'switch', message: 'p90 over budget', from: 'a', to: 'b' },
};
type Kind = keyof typeof base;
const KINDS = Object.keys(base) as Kind[];
const msg = (kind: Kind, body: unknown) => validateMessage('edgefit', `edgefit/${DEV}/${kind}`, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));

function withValue(kind: Kind, path: string, value: unknown): unknown {
  const v = structuredClone(base[kind]) as Record<string, unknown>;
  const keys = path.split('.');
  let o = v as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys[keys.length - 1]!] = value;
  return v;
}

describe('ingest bounds', () => {
  it('accepts what a real daemon published (the recording)', () => {
    const all: [Kind, unknown][] = [
      ['status', rec.status], ['status', rec.stopped], ['model', rec.model],
      ...rec.telemetry.map((t) => ['telemetry', t.payload] as [Kind, unknown]), ...rec.results.map((r) => ['result', r.payload] as [Kind, unknown]),
    ];
    for (const [kind, p] of all) {
      const m = validateMessage('edgefit', `edgefit/pi4-kitchen/${kind}`, Buffer.from(JSON.stringify(p)));
      expect(m, `${kind} ${JSON.stringify(p).slice(0, 80)}`).not.toHaveProperty('reason');
    }
  });

  // each one out of range by a wide margin and by a hair; found numbers outside what a board can report
  const refused: [Kind, string, unknown][] = [
    ['model', 'candidates.0.p90Ms', 1.7e308], ['model', 'candidates.0.p90Ms', -1], ['model', 'candidates.0.p90Ms', 1e6 + 1],
    ['model', 'candidates.0.referenceAccuracy', 1.5], ['model', 'candidates.0.referenceAccuracy', -1e-9], ['model', 'candidates.0.macs', 1e13 + 1],
    ['model', 'candidates.0.peakMb', 1e308], ['model', 'candidates.0.alpha', 1e308], ['model', 'candidates.0.resolution', 2 ** 31],
    ['model', 'variant.macs', 1e300], ['model', 'variant.params', 1e300], ['model', 'variant.referenceAccuracy', 2], ['model', 'threads', 1e6],
    ['model', 'budget.latencyMs', 1.7e308], ['model', 'budget.memoryMb', 1e300], ['model', 'budget.minAccuracy', 1.5],
    ['model', 'measurement', { p50Ms: 1, p90Ms: 1e308, p99Ms: 1, peakMb: 1 }], ['model', 'session', 1e300], ['model', 'measured', 1e300], ['model', 'ladder', -1],
    ['telemetry', 'fps', 1e308], ['telemetry', 'fps', -1], ['telemetry', 'latencyMs.p90', 1e6 + 1], ['telemetry', 'inferMs.p50', -5e-324],
    ['telemetry', 'cpuPercent', 1e308], ['telemetry', 'rssMb', 1e308], ['telemetry', 'temperatureC', 1e308], ['telemetry', 'temperatureC', -300],
    ['telemetry', 'windowSeconds', 1e308], ['telemetry', 'eventLoopDelayP99Ms', 1e308], ['telemetry', 'frames.in', 2 ** 53 + 2],
    ['telemetry', 'outbox.depth', 1e300], ['telemetry', 'reconnects', 1e300], ['telemetry', 'engine.restarts', 1e300], ['telemetry', 'camera.stalls', 1e300],
    ['result', 'latencyMs', 1e308], ['result', 'inferMs', 1e6 + 1], ['result', 'frameTs', 1e300], ['result', 'seq', 1e300], ['result', 'top.0.index', 1e300],
    ['status', 'session', 1e300], ['event', 'seq', 1e300], ['event', 'session', 2 ** 53 + 2],
  ];
  it.each(refused)('refuses a %s with %s = %s', (kind, path, value) => {
    const m = msg(kind, withValue(kind, path, value));
    expect(m).toMatchObject({ reason: 'shape' });
  });

  it('refuses number literals JSON.parse turns into Infinity or that overflow', () => {
    const text = JSON.stringify(base.telemetry).replace(/"fps":[^,]+/, '"fps":1e400');
    expect(JSON.parse(text).fps).toBe(Infinity);
    expect(msg('telemetry', text)).toMatchObject({ reason: 'shape' });
    expect(msg('model', JSON.stringify(base.model).replace(/"p90Ms":[^,]+/, '"p90Ms":-1e400'))).toMatchObject({ reason: 'shape' });
  });
});

describe('one device cannot take the dashboard down', () => {
  const worker = new BoundedWorker(10_000);
  afterAll(() => worker.stop());

  it('the reported payload (a candidate p90 of 1.7e308 ms) is refused at ingest, and its chart renders anyway', async () => {
    const model = withValue('model', 'candidates.1.p90Ms', 1.7e308);
    const out = await worker.run({ kind: 'message', prefix: 'edgefit', topic: `edgefit/${DEV}/model`, payload: Buffer.from(JSON.stringify(model)) }, 'p90Ms 1.7e308 at ingest');
    expect(out).toMatchObject({ refused: 'shape' });
    const drawn = await worker.run({ kind: 'model', model }, 'p90Ms 1.7e308 drawn without ingest');
    expect(badCoordinates((drawn as { svg: string }).svg)).toEqual([]);
  });

  /**
   * The property: every random or extreme payload is answered (accepted or refused) within the bound, an
   * accepted one carries only finite numbers within the schemas' widest range, and an accepted model's chart
   * has finite coordinates. Deterministic: the seed is fixed, and a failure names the case and its mutations.
   */
  it('random and extreme payloads at ingest: each is refused or accepted (and drawn) within a time bound', async () => {
    const r = rng(0x14e0a);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 600; i++) {
      const kind = KINDS[i % KINDS.length]!;
      const m = r() < 0.1 ? (() => { const o = oddBytes(r); return { text: o.bytes, what: o.what }; })() : mutate(r, base[kind]);
      const name = `case ${i} (${kind}: ${m.what})`;
      const out: Outcome = await worker.run({ kind: 'message', prefix: 'edgefit', topic: `edgefit/${DEV}/${kind}`, payload: typeof m.text === 'string' ? Buffer.from(m.text) : m.text }, name);
      expect(out, name).not.toHaveProperty('error');
      if ('refused' in out) { counts[out.refused] = (counts[out.refused] ?? 0) + 1; continue; }
      counts.accepted = (counts.accepted ?? 0) + 1;
      const wild = numbersIn((out as { payload: unknown }).payload).filter((x) => !Number.isFinite(x) || Math.abs(x) > 8.64e15);
      expect(wild, `${name}: accepted numbers out of every bound`).toEqual([]);
      if ('svg' in out && out.svg !== undefined) expect(badCoordinates(out.svg), name).toEqual([]);
    }
    // the generator reaches both sides of the boundary
    expect(counts.accepted).toBeGreaterThan(20);
    expect(counts.shape).toBeGreaterThan(100);
  });

  it('random and extreme figures drawn without ingest: each chart renders within a time bound, with finite coordinates', async () => {
    const r = rng(0xc4a27);
    for (let i = 0; i < 150; i++) {
      const m = mutate(r, base.model, true);
      const name = `model case ${i} (${m.what})`;
      const out = await worker.run({ kind: 'model', model: JSON.parse(m.text) }, name);
      expect(out, name).not.toHaveProperty('error');
      expect(badCoordinates((out as { svg: string }).svg), name).toEqual([]);
    }
    for (let i = 0; i < 150; i++) {
      const n = r() < 0.1 ? Math.floor(r() * 20_000) : Math.floor(r() * 40);
      const num = () => (r() < 0.6 ? EXTREME_NUMBERS[Math.floor(r() * EXTREME_NUMBERS.length)]! : r() < 0.5 ? NaN : r() * 100);
      const data = {
        points: Array.from({ length: n }, (_, k) => ({ id: r() < 0.05 ? ODD_TEXT[Math.floor(r() * ODD_TEXT.length)]!.repeat(1 + Math.floor(r() * 100)) : `v${k}`, latencyMs: num(), y: num(), status: (['chosen', 'fits', 'rejected'] as const)[k % 3]! })),
        yKind: r() < 0.5 ? 'accuracy' : 'macs', percentile: 'p90',
        budgets: r() < 0.5 ? [{ ms: num(), label: 'budget' }] : [],
        ...(r() < 0.2 ? { width: num(), height: num() } : {}),
      };
      const name = `plot case ${i} (${n} points)`;
      const out = await worker.run({ kind: 'plot', data }, name);
      expect(out, name).not.toHaveProperty('error');
      expect(badCoordinates((out as { svg: string }).svg), name).toEqual([]);
    }
  });
});
