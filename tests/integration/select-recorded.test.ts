import { describe, it, expect, beforeAll } from 'vitest';
import { copyFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import { loadConfig } from '../../src/config/index.js';
import { buildLadder, loadCatalog } from '../../src/catalog/index.js';
import { ProfileCache } from '../../src/profile/cache.js';
import { candidatesFromCache } from '../../src/select/from-cache.js';
import { specsFor } from '../../src/select/search.js';
import { fastestOk } from '../../src/select/policy.js';
import type { Candidate } from '../../src/select/types.js';
import { pulledState } from '../helpers/daemon.js';
import { probeDevice, boardFingerprint } from '../../src/device/probe.js';
import type { DeviceInfo } from '../../src/device/types.js';
import { budgetFromConfig, chooseModel } from '../../src/select/choose.js';

/**
 * tests/fixtures/profile-cache-x64.json: what `edgefit profile --all --probe <shared data>/images/calib` measured on
 * the x64 build host for the shipped catalog's ImageNet ladder (see the fixture's `note`).
 */
const FIXTURE = join(projectRoot, 'tests', 'fixtures', 'profile-cache-x64.json');

let state: string;
let candidates: Candidate[];

function edgefit(args: string[], timeout = 50_000) {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'edgefit.js'), ...args], { encoding: 'utf8', env: { ...process.env, EDGEFIT_CONFIG: '', EDGEFIT_STATE_DIR: state }, timeout });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  state = await pulledState(loadCatalog().models.filter((m) => m.task === 'imagenet').map((m) => m.id));
  const { config } = loadConfig({ env: {}, overrides: { stateDir: state }, host: { hostname: 't', isRoot: false, home: state } });
  const cache = new ProfileCache(FIXTURE, { strict: true });
  candidates = candidatesFromCache(specsFor(await buildLadder(config), ['cpu']), cache, cache.boards()[0]!);
}, 120_000);

const best = (c: Candidate) => fastestOk(c, 'p90')!.latencyMs.p90;

describe('edgefit select --from-cache on the recorded measurements of the shipped ladder', () => {
  it('the recording covers every rung (else re-record it: see the fixture note)', () => {
    const missing = candidates.filter((c) => !fastestOk(c, 'p90')).map((c) => c.id);
    expect(missing, 'rungs the fixture has no figures for (converted model bytes changed?): re-record tests/fixtures/profile-cache-x64.json').toEqual([]);
    expect(candidates.filter((c) => c.agreement).length).toBeGreaterThanOrEqual(18);
  });

  it('a budget the MobileNet-v2 224 rungs miss and the 192 rungs meet picks a MobileNet-v2 192 rung, and says why', () => {
    const v2 = candidates.filter((c) => c.variant.family === 'mobilenet_v2');
    const at224 = Math.min(...v2.filter((c) => c.variant.resolution === 224).map(best));
    const at192 = Math.min(...v2.filter((c) => c.variant.resolution === 192).map(best));
    expect(at192, 'the recording has a v2 192 rung faster than every v2 224 rung').toBeLessThan(at224);
    const budget = ((at192 + at224) / 2).toFixed(3);
    const j = edgefit(['select', '--from-cache', FIXTURE, '--budget-ms', budget, '--json']);
    expect(j.code, j.err).toBe(0);
    const out = JSON.parse(j.out) as { decision: { chosen: Candidate; rejected: { id: string; reason: string; detail: string }[] } };
    const chosen = out.decision.chosen;
    expect(chosen.variant.family).toBe('mobilenet_v2');
    expect(chosen.variant.resolution).toBe(192);
    expect(chosen.variant.estimatedAccuracy).toBe(0.692);
    expect(chosen.variant.accuracyBasis).toMatch(/^estimated: 70\.8% at 224 minus 1\.5 x the published 224->192 drop/);
    const why = new Map(out.decision.rejected.map((r) => [r.id, r]));
    for (const c of v2.filter((x) => x.variant.resolution === 224)) expect(why.get(c.id)?.reason, c.id).toBe('too-slow');
    // what edgefit picked before: MobileNet-v1 0.75/192 (published), now below the estimate
    for (const id of ['mobilenet_v1-0.75-192-int8@cpu', 'mobilenet_v1-0.75-192-fp32-deq@cpu']) {
      if (why.get(id)?.reason === 'dominated') expect(why.get(id)!.detail).toBe(`dominated by ${chosen.id} (more accurate: 69.2% estimated vs 66.1% published, also fits)`);
    }
    const human = edgefit(['select', '--from-cache', FIXTURE, '--budget-ms', budget]);
    expect(human.out).toMatch(new RegExp(`^\\* +${chosen.id.replace(/[.@]/g, '\\$&')} +\\w+ +221\\.3 +69\\.2% +est +\\d/\\d .* CHOSEN$`, 'm'));
    expect(human.out).toMatch(/^ +mobilenet_v2-1\.0-224-int8@cpu .* 70\.8% +pub .* too-slow: too slow by/m);
    expect(human.out).toContain('est = estimated from the published drop between resolutions');
  });
});

describe('edgefit run, profile and select pick the same rung from the same cache and configuration', () => {
  let device: DeviceInfo;
  let sameBoard = false;
  beforeAll(async () => {
    device = await probeDevice({ quietOrt: true });
    // run and profile measure this board: the recording answers them only on the board it was made on
    sameBoard = boardFingerprint(device) === new ProfileCache(FIXTURE, { strict: true }).boards()[0];
  }, 60_000);

  it('select --from-cache, profile (every figure from the cache) and the daemon\'s chooseModel agree at budgets between the rungs', async (ctx) => {
    if (!sameBoard) ctx.skip(); // another board would measure the whole ladder for real (minutes), not replay it
    const calib = join(sharedData, 'images', 'calib');
    // budgets that split the recorded ladder at three different places (the v2 224/192 split and both ends)
    const p90s = [...new Set(candidates.map(best))].sort((a, b) => a - b);
    const at = (q: number) => ((p90s[Math.floor(q * (p90s.length - 1))]! + p90s[Math.floor(q * (p90s.length - 1)) + 1]!) / 2).toFixed(3);
    for (const budgetMs of [at(0.2), at(0.5), at(0.8)]) {
      const sel = edgefit(['select', '--from-cache', FIXTURE, '--budget-ms', budgetMs, '--json']);
      expect(sel.code, sel.err).toBe(0);
      const selected = (JSON.parse(sel.out) as { decision: { chosen: Candidate | null } }).decision.chosen?.id;

      copyFileSync(FIXTURE, join(state, 'profile-cache.json'));
      const prof = edgefit(['profile', '--budget-ms', budgetMs, '--probe', calib, '--json'], 120_000);
      expect(prof.code, prof.err).toBe(0);
      const profiled = JSON.parse(prof.out) as { decision: { chosen: Candidate | null; measured: number } };
      expect(prof.err, 'profile measured something the recording holds').not.toMatch(/measuring|child/i);

      copyFileSync(FIXTURE, join(state, 'profile-cache.json'));
      const { config } = loadConfig({ env: {}, overrides: { stateDir: state, 'budget.latencyMs': Number(budgetMs), 'profile.probeDir': calib }, host: { hostname: 't', isRoot: false, home: state } });
      const ladder = await buildLadder(config);
      const missed = new AbortController();
      const misses: string[] = [];
      const choice = await chooseModel(config, device, ladder, budgetFromConfig(config, device), (p) => {
        // a cache miss would measure for real: stop at once and say which
        if (!p.cached) { misses.push(p.candidate); missed.abort(); }
      }, missed.signal);
      expect(misses, 'the daemon measured what the recording holds').toEqual([]);

      expect(selected, `budget ${budgetMs} ms`).toBeDefined();
      expect(profiled.decision.chosen?.id, `profile at ${budgetMs} ms`).toBe(selected);
      expect(`${choice.variant.id}@${choice.provider}`, `run at ${budgetMs} ms`).toBe(selected);
      expect(choice.overBudget).toBe(false);
    }
  }, 600_000);
});
