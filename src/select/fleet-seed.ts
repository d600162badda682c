/**
 * Seeding a selection from the fleet: figures that devices with the same board fingerprint measured and shared.
 * A figure is used only where this device has none of its own for the same key (own measurements win), only for
 * this exact fingerprint and runtime, and only as a seed: the pick is confirmed by measuring it here
 * (`chooseModel`), and a miss moves on to the next rung, measured here too.
 */
import { candidateId, type CandidateSpec } from '../types/candidate.js';
import type { CacheKey, ProfileCache } from '../profile/cache.js';
import type { Measured, Measurement } from '../profile/types.js';

/** One measurement another device shared, already checked (schema, bounds, fingerprint) by src/mqtt/fleet-measurements.ts. */
export interface FleetFigure {
  deviceId: string;
  key: CacheKey;
  measurement: Measurement;
}

/** What the fleet offered this device at its start. */
export interface FleetSeed {
  /** the fingerprint the figures were asked for (and checked against) */
  board: string;
  figures: FleetFigure[];
  /** entries refused (schema, bounds, a foreign fingerprint), for the log and the model payload */
  refused: number;
}

/** What a choice owes to the fleet, for the `model` payload. */
export interface FleetUse {
  /** candidates whose figures came (wholly) from the fleet */
  fleetCandidates: number;
  /** candidates measured on this device (cached or now) */
  ownCandidates: number;
  /** candidates measured here to confirm a pick made on fleet figures, in order (the last one is the choice when it held) */
  confirmed: string[];
  /** devices whose figures were used */
  devices: string[];
  /** fleet entries refused at the start */
  refused: number;
}

function keyOf(k: Omit<CacheKey, 'threads'>, threads: number): string {
  return JSON.stringify([k.board, k.sha256, k.resolution, k.ortVersion, k.provider, threads]);
}

export interface SeededMeasurer {
  measure: (spec: CandidateSpec) => Promise<Measured>;
  /** `ownNow`: a candidate measured here since (its confirmation) */
  use(confirmed: string[], ownNow?: string): FleetUse;
}

/**
 * A measure function for the search: per thread count, this device's cached figure, else the fleet's; a candidate
 * with neither is measured here (`own`, the profiler-backed measurer). A seeded candidate carries no agreement
 * (probe frames are this device's own): the confirmation of the pick measures it, and a demotion is a miss.
 */
export function seededMeasurer(seed: FleetSeed, cache: ProfileCache, own: (spec: CandidateSpec) => Promise<Measured>, o: { board: string; ortVersion: string; threads: number[] }): SeededMeasurer {
  const fleet = new Map<string, FleetFigure>();
  for (const f of seed.figures) if (f.key.board === o.board && f.key.ortVersion === o.ortVersion) fleet.set(keyOf(f.key, f.key.threads), f);
  const origin = new Map<string, { fleet: boolean; own: boolean; devices: string[] }>();
  return {
    measure: async (spec) => {
      const id = candidateId(spec.variant.id, spec.provider);
      const base = { board: o.board, sha256: spec.variant.sha256, resolution: spec.variant.resolution, ortVersion: o.ortVersion, provider: spec.provider };
      const got: Measurement[] = [];
      const devices: string[] = [];
      let anyFleet = false;
      let anyOwn = false;
      for (const t of o.threads) {
        const mine = cache.get({ ...base, threads: t });
        if (mine) { got.push(mine); anyOwn = true; continue; }
        const f = fleet.get(keyOf(base, t));
        if (f) { got.push({ ...f.measurement, variantId: spec.variant.id, provider: spec.provider, threads: t, fromFleet: f.deviceId }); devices.push(f.deviceId); anyFleet = true; }
      }
      if (got.length === 0) {
        origin.set(id, { fleet: false, own: true, devices: [] });
        return own(spec);
      }
      origin.set(id, { fleet: anyFleet, own: anyOwn, devices });
      return { measurements: got };
    },
    use: (confirmed, ownNow) => {
      if (ownNow) { const o = origin.get(ownNow); if (o) origin.set(ownNow, { ...o, own: true, fleet: false }); }
      const all = [...origin.values()];
      return {
        fleetCandidates: all.filter((x) => x.fleet && !x.own).length,
        ownCandidates: all.filter((x) => x.own).length,
        confirmed,
        devices: [...new Set(all.flatMap((x) => x.devices))].sort().slice(0, 32),
        refused: seed.refused,
      };
    },
  };
}
