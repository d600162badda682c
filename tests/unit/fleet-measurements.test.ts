import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { ProfileCache } from '../../src/profile/cache.js';
import { measurementPayload, parseFleetMeasurement, type FleetMeasurementPayload } from '../../src/mqtt/fleet-measurements.js';
import { fingerprintLevel, fleetTopics } from '../../src/mqtt/topics.js';
import { fleetMeasurementSchema, MAX_FLEET_PAYLOAD } from '../../src/mqtt/fleet-schemas.js';
import { seededMeasurer, type FleetSeed } from '../../src/select/fleet-seed.js';
import { searchAndSelect } from '../../src/select/search.js';
import { projectRoot } from '../../src/util/paths.js';
import { meas, variant } from './select-fixtures.js';
import { FLEET_VALIDATORS, fleetValidatorsSource } from '../../scripts/write-validators.js';

const board = 'x64_intel-xeon-x2_avx2.avx512_ort-1.22.0';
const ort = '1.22.0';
const sha = (c: string) => c.repeat(64);

function payload(o: { board?: string; sha256?: string; threads?: number; p90?: number; p50?: number; min?: number } = {}): { topic: string; body: FleetMeasurementPayload } {
  const m = meas('v', o.p90 ?? 20, { threads: o.threads ?? 1, ...(o.p50 !== undefined ? { p50: o.p50 } : {}) });
  if (o.min !== undefined) m.latencyMs.min = o.min;
  const key = { board: o.board ?? board, sha256: o.sha256 ?? sha('a'), resolution: 128, ortVersion: ort, provider: 'cpu' as const, threads: o.threads ?? 1 };
  const body = measurementPayload('dev-a', { key, measurement: m })!;
  const topic = fleetTopics('edgefit').measurement(fingerprintLevel(board), ort, key.sha256, 128, 'cpu', key.threads);
  return { topic, body };
}

const parse = (topic: string, body: unknown) => parseFleetMeasurement('edgefit', topic, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), board, ort);

describe('shared measurements: the payload and its checks', () => {
  it('an own cache entry becomes a schema-valid payload that reads back as the same figures, marked as the fleet\'s', () => {
    const { topic, body } = payload();
    expect(new Ajv({ strict: false }).compile(fleetMeasurementSchema)(body)).toBe(true);
    expect(JSON.stringify(body).length).toBeLessThan(MAX_FLEET_PAYLOAD);
    const got = parse(topic, body);
    expect(got.ok).toBe(true);
    if (!got.ok) return;
    expect(got.figure.key).toEqual({ board, sha256: sha('a'), resolution: 128, ortVersion: ort, provider: 'cpu', threads: 1 });
    expect(got.figure.measurement.latencyMs.p90).toBe(20);
    expect(got.figure.measurement.fromFleet).toBe('dev-a');
    // the published schema file is this schema, and the committed validators are its compilation
    expect(readFileSync(join(projectRoot, FLEET_VALIDATORS), 'utf8')).toBe(fleetValidatorsSource());
    expect(JSON.parse(readFileSync(join(projectRoot, 'schemas/mqtt/fleet-measurement.schema.json'), 'utf8')).$id).toBe('edgefit/fleet-measurement');
  });

  it('refuses what a hostile device could write: absurd values, inconsistent figures, another fingerprint, a key not the topic\'s, size, junk', () => {
    const { topic, body } = payload();
    const with_ = (f: (b: FleetMeasurementPayload) => void) => { const b = structuredClone(body); f(b); return b; };
    const cases: [string, unknown, RegExp][] = [
      ['p90 of a picosecond', with_((b) => { b.measurement.p90Ms = 1e-9; }), /schema/],
      ['p90 of 1e308', with_((b) => { b.measurement.p90Ms = 1e308; }), /schema/],
      ['a negative peak', with_((b) => { b.measurement.peakMb = -5; }), /schema/],
      ['zero runs', with_((b) => { b.measurement.runs = 0; }), /schema/],
      ['an extra field', with_((b) => { (b as unknown as Record<string, unknown>).trust = 'me'; }), /schema/],
      ['p50 above p90', with_((b) => { b.measurement.p50Ms = 50; }), /out of order/],
      ['another fingerprint in the payload', with_((b) => { b.board = 'pi4_cortex-a72-x4_neon_ort-1.22.0'; }), /another board fingerprint/],
      ['another runtime', with_((b) => { b.key.ortVersion = '1.21.0'; }), /another runtime/],
      ['a key that is not the topic\'s', with_((b) => { b.key.threads = 2; }), /differs from the topic/],
      ['not JSON', '{"format":', /not JSON/],
      ['too large', JSON.stringify({ ...body, pad: 'x'.repeat(MAX_FLEET_PAYLOAD) }), /larger than/],
    ];
    for (const [what, b, reason] of cases) {
      const got = parse(topic, b);
      expect(got.ok, what).toBe(false);
      if (!got.ok) expect(got.reason, what).toMatch(reason);
    }
    // a topic of another fingerprint's subtree is not one of ours at all
    const foreign = fleetTopics('edgefit').measurement(fingerprintLevel('pi4_x'), ort, sha('a'), 128, 'cpu', 1);
    expect(parse(foreign, body).ok).toBe(false);
  });

  it('seeding: own figures win over the fleet\'s per key; fleet figures of another fingerprint are never used; nothing of the fleet enters the cache', async () => {
    const cache = new ProfileCache(join(mkdtempSync(join(tmpdir(), 'edgefit-seed-')), 'cache.json'));
    const big = variant('big', { sha256: sha('b'), resolution: 224, macs: 500e6, referenceAccuracy: 0.7 });
    const small = variant('small', { sha256: sha('c'), resolution: 128, macs: 50e6, referenceAccuracy: 0.4 });
    const k = (v: typeof big, threads: number, b = board) => ({ board: b, sha256: v.sha256, resolution: v.resolution, ortVersion: ort, provider: 'cpu' as const, threads });
    // the fleet says big fits a 30 ms budget; this device measured it before at 45 ms
    await cache.put(k(big, 1), meas('big', 45));
    const seed: FleetSeed = {
      board, refused: 0,
      figures: [
        { deviceId: 'liar', key: k(big, 1), measurement: { ...meas('big', 10), fromFleet: 'liar' } },
        { deviceId: 'dev-a', key: k(small, 1), measurement: { ...meas('small', 5), fromFleet: 'dev-a' } },
        // a tempting figure of another board: never used
        { deviceId: 'pi', key: k(big, 2, 'pi4_other'), measurement: { ...meas('big', 1, { threads: 2 }), fromFleet: 'pi' } },
      ],
    };
    const measured: string[] = [];
    const s = seededMeasurer(seed, cache, async (spec) => { measured.push(spec.variant.id); return { measurements: [meas(spec.variant.id, 99)] }; }, { board, ortVersion: ort, threads: [1, 2] });
    const sel = await searchAndSelect([{ variant: big, provider: 'cpu' }, { variant: small, provider: 'cpu' }], { latencyMs: 30, percentile: 'p90' }, s.measure);
    expect(sel.decision.chosen?.variant.id).toBe('small');
    expect(sel.decision.chosenMeasurement?.fromFleet).toBe('dev-a');
    const bigC = sel.candidates.find((c) => c.variant.id === 'big')!;
    expect(bigC.measurements.map((m) => [m.threads, m.latencyMs.p90, m.fromFleet])).toEqual([[1, 45, undefined]]);
    expect(measured).toEqual([]);
    expect(s.use([]).devices).toEqual(['dev-a']);
    expect(cache.list().map((e) => e.key.sha256)).toEqual([sha('b')]);
  });
});
