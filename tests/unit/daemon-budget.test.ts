import { describe, it, expect } from 'vitest';
import { budgetFromConfig } from '../../src/select/choose.js';
import { resolveBudget } from '../../src/select/policy.js';
import { loadConfig } from '../../src/config/index.js';
import type { DeviceInfo } from '../../src/device/types.js';

const device = { memory: { effectiveMb: 1000 } } as unknown as DeviceInfo;
const config = (set: Record<string, unknown> = {}) => loadConfig({ env: {}, overrides: set, host: { hostname: 'h', isRoot: false, home: '/home/u' } }).config;

describe('the budget the daemon hands the selector', () => {
  it('budget.fps sets the latency budget only when budget.latencyMs is 0, as the config documents', () => {
    const c = config();
    expect(c.budget.fps).toBeGreaterThan(0);
    expect(resolveBudget(budgetFromConfig(c, device)).latencyMs).toBeCloseTo(1000 / c.budget.fps);
    // a latency budget looser than 1000/fps is the one that counts (it used to be capped at 1000/fps)
    expect(resolveBudget(budgetFromConfig(c, device, { latencyMs: 1000 })).latencyMs).toBe(1000);
    expect(resolveBudget(budgetFromConfig(config({ 'budget.latencyMs': 40, 'budget.fps': 100 }), device)).latencyMs).toBe(40);
  });

  it('memory: an explicit budget, else a fraction of what the board has available', () => {
    expect(resolveBudget(budgetFromConfig(config({ 'budget.memoryMb': 300 }), device)).memoryMb).toBe(300);
    expect(resolveBudget(budgetFromConfig(config({ 'budget.memoryFraction': 0.25 }), device)).memoryMb).toBe(250);
  });

  it('no memory left at all (a full cgroup) is said with what to change, not as an internal budget field', () => {
    const full = { memory: { effectiveMb: 0, availableMb: 3000, cgroup: { version: 2, path: '/edgefit.service', limitMb: 512, usageMb: 512 } } } as unknown as DeviceInfo;
    expect(() => budgetFromConfig(config(), full)).toThrow(/no memory is left to run a model: the cgroup's memory limit of 512 MB is in use .* or set budget.memoryMb/);
    // an explicit budget does not depend on what the board reports
    expect(resolveBudget(budgetFromConfig(config({ 'budget.memoryMb': 100 }), full)).memoryMb).toBe(100);
  });

  it('the demotion threshold comes from profile.minAgreement (default 0.5; 0 = never demote)', () => {
    expect(resolveBudget(budgetFromConfig(config(), device)).minAgreement).toBe(0.5);
    expect(resolveBudget(budgetFromConfig(config({ 'profile.minAgreement': 0.8 }), device)).minAgreement).toBe(0.8);
    expect(resolveBudget(budgetFromConfig(config({ 'profile.minAgreement': 0 }), device)).minAgreement).toBe(0);
    expect(() => config({ 'profile.minAgreement': 1.5 })).toThrow(/minAgreement/);
  });
});

describe('the budget percentile', () => {
  it('50, 90 and 99 are p50, p90 and p99', () => {
    expect(budgetFromConfig(config({ 'budget.percentile': 50 }), device).percentile).toBe('p50');
    expect(budgetFromConfig(config(), device).percentile).toBe('p90');
    expect(budgetFromConfig(config({ 'budget.percentile': 99 }), device).percentile).toBe('p99');
  });

  it('any other percentile is refused with the ones accepted, not rounded to a neighbour (95 used to become p90)', () => {
    expect(() => config({ 'budget.percentile': 95 })).toThrow(/budget\.percentile.*50, 90.*99/);
    // an override that did not go through the configuration's validation is held to the same three
    expect(() => budgetFromConfig(config(), device, { percentile: 95 as 90 })).toThrow(/percentile.*50, 90 or 99.*95/);
  });
});
