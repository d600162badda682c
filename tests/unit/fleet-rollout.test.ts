import { describe, it, expect } from 'vitest';
import {
  cutoffFor, inStage, judgeHealth, parseDesired, parseMemberReport, parseShare, rolloutTopics, stageDecision, stageResult, stagesFor,
  DEFAULT_THRESHOLDS, ROLLOUT_FORMAT, MAX_REPORT_PAYLOAD, type MemberReport,
} from '../../src/mqtt/fleet-rollout.js';

const ids = Array.from({ length: 37 }, (_, i) => `dev-${i}`);

describe('rollout stages, ranks and the health gate', () => {
  it('stages are the canary share, 50% and 100%; each takes ceil(share x devices) by rank, cumulatively, the same on every device', () => {
    expect(stagesFor(0.1)).toEqual([0.1, 0.5, 1]);
    expect(stagesFor(0.6)).toEqual([0.6, 1]);
    expect(stagesFor(1)).toEqual([1]);
    expect(parseShare('10%')).toBe(0.1);
    expect(parseShare('0.25')).toBe(0.25);
    for (const bad of ['0%', '150%', 'ten', '-5%']) expect(() => parseShare(bad)).toThrow(/--canary/);
    // --max-unhealthy: 0 (its default) can be written, and its own name is in the message
    expect(parseShare('0', '--max-unhealthy', true)).toBe(0);
    expect(parseShare('5%', '--max-unhealthy', true)).toBe(0.05);
    expect(() => parseShare('5pct', '--max-unhealthy', true)).toThrow(/^--max-unhealthy takes a share/);
    expect(() => parseShare('120%', '--max-unhealthy', true)).toThrow(/^--max-unhealthy must be from 0% and at most 100%/);
    let prev = new Set<string>();
    for (const [share, n] of [[0.1, 4], [0.5, 19], [1, 37]] as const) {
      const cut = cutoffFor('r1', ids, share);
      const taken = ids.filter((d) => inStage('r1', d, cut));
      expect(taken.length).toBe(n);
      for (const d of prev) expect(taken).toContain(d);
      prev = new Set(taken);
    }
    // another rollout picks another canary; no cutoff takes nobody
    const a = ids.filter((d) => inStage('r1', d, cutoffFor('r1', ids, 0.1)));
    const b = ids.filter((d) => inStage('r2', d, cutoffFor('r2', ids, 0.1)));
    expect(a).not.toEqual(b);
    expect(ids.some((d) => inStage('r1', d, ''))).toBe(false);
    expect(cutoffFor('r1', ['only'], 0.1)).not.toBe('');
  });

  it('judges p90 and fps against the device\'s own previous figures, crashes and fidelity', () => {
    const ok = { p90Ms: 40, previousP90Ms: 40, fps: 10, previousFps: 10, crashes: 0, restarts: 0, fidelity: 0.95 };
    expect(judgeHealth(ok, DEFAULT_THRESHOLDS)).toEqual({ healthy: true });
    expect(judgeHealth({ ...ok, p90Ms: 51 }, DEFAULT_THRESHOLDS)).toMatchObject({ healthy: false, reason: expect.stringMatching(/p90 51\.0 ms > 1\.25x/) });
    expect(judgeHealth({ ...ok, fps: 7 }, DEFAULT_THRESHOLDS)).toMatchObject({ healthy: false });
    expect(judgeHealth({ ...ok, restarts: 1 }, DEFAULT_THRESHOLDS)).toMatchObject({ healthy: false });
    expect(judgeHealth({ ...ok, fidelity: 0.5 }, DEFAULT_THRESHOLDS)).toEqual({ healthy: false, reason: 'fidelity 50% < 80% on its probe frames' });
    expect(judgeHealth({ ...ok, fidelity: 0.5, fidelityFrames: 12 }, DEFAULT_THRESHOLDS)).toEqual({ healthy: false, reason: 'fidelity 50% < 80% on its 12 probe frames' });
    expect(judgeHealth({ ...ok, fidelity: null }, DEFAULT_THRESHOLDS)).toEqual({ healthy: true });
  });

  it('a stage waits for its devices, counts a silent one as unhealthy after the timeout, halts on one unhealthy device', () => {
    const rep = (id: string, phase: 'proven' | 'refused' | 'proving', p90 = 40): MemberReport => ({
      format: ROLLOUT_FORMAT, deviceId: id, group: 'g', board: 'b', catalogVersion: 1, ts: 'x',
      rollout: { rolloutId: 'r', phase, catalogVersion: 2, ...(phase === 'proven' ? { health: { p90Ms: p90, previousP90Ms: 40, fps: 10, previousFps: 10, crashes: 0, restarts: 0, fidelity: null } } : {}) },
    });
    const reports = new Map([['a', rep('a', 'proven')], ['b', rep('b', 'proving')]]);
    const waiting = stageResult('r', 0.5, ['a', 'b'], reports, DEFAULT_THRESHOLDS, false);
    expect(stageDecision(waiting, DEFAULT_THRESHOLDS)).toBe('wait');
    const late = stageResult('r', 0.5, ['a', 'b'], reports, DEFAULT_THRESHOLDS, true);
    expect(late.unhealthy).toEqual([{ deviceId: 'b', reason: 'no health report within 300 s (offline?)' }]);
    expect(stageDecision(late, DEFAULT_THRESHOLDS)).toBe('halt');
    reports.set('b', rep('b', 'proven', 90));
    expect(stageDecision(stageResult('r', 0.5, ['a', 'b'], reports, DEFAULT_THRESHOLDS, false), DEFAULT_THRESHOLDS)).toBe('halt');
    reports.set('b', rep('b', 'proven'));
    expect(stageDecision(stageResult('r', 0.5, ['a', 'b'], reports, DEFAULT_THRESHOLDS, false), DEFAULT_THRESHOLDS)).toBe('pass');
    // a report of another rollout does not count for this one
    reports.set('b', { ...rep('b', 'proven'), rollout: { ...rep('b', 'proven').rollout!, rolloutId: 'old' } });
    expect(stageResult('r', 0.5, ['a', 'b'], reports, DEFAULT_THRESHOLDS, false).waiting).toEqual(['b']);
  });

  it('refuses hostile member reports and desired messages', () => {
    const good: MemberReport = { format: ROLLOUT_FORMAT, deviceId: 'd1', group: 'g', board: 'pi', catalogVersion: 1, ts: 'x' };
    const b = (x: unknown) => Buffer.from(JSON.stringify(x));
    expect(parseMemberReport(b(good), 'd1', 'g')).toEqual(good);
    expect(parseMemberReport(b(good), 'd2', 'g')).toBeUndefined(); // a report under another device's topic
    expect(parseMemberReport(b({ ...good, group: 'h' }), 'd1', 'g')).toBeUndefined();
    expect(parseMemberReport(b({ ...good, catalogVersion: -1 }), 'd1', 'g')).toBeUndefined();
    expect(parseMemberReport(b({ ...good, rollout: { rolloutId: 'r', phase: 'proven', catalogVersion: 2, health: { p90Ms: 1e308, previousP90Ms: 1, fps: 1, previousFps: 1, crashes: 0, restarts: 0, fidelity: null } } }), 'd1', 'g')).toBeUndefined();
    // fidelityFrames: a count of probe frames, or absent (a device from before it was reported)
    const h = { p90Ms: 10, previousP90Ms: 10, fps: 5, previousFps: 5, crashes: 0, restarts: 0, fidelity: 0.9 };
    const withHealth = (x: object) => b({ ...good, rollout: { rolloutId: 'r', phase: 'proven', catalogVersion: 2, health: { ...h, ...x } } });
    expect(parseMemberReport(withHealth({ fidelityFrames: 9 }), 'd1', 'g')?.rollout?.health).toEqual({ ...h, fidelityFrames: 9 });
    expect(parseMemberReport(withHealth({}), 'd1', 'g')?.rollout?.health).toEqual(h);
    for (const bad of [-1, 2.5, 1e9, '9', null]) expect(parseMemberReport(withHealth({ fidelityFrames: bad }), 'd1', 'g'), String(bad)).toBeUndefined();
    expect(parseMemberReport(withHealth({ fidelity: 1.5 }), 'd1', 'g')).toBeUndefined();
    expect(parseMemberReport(b({ ...good, rollout: { rolloutId: 'r', phase: 'installed!', catalogVersion: 2 } }), 'd1', 'g')).toBeUndefined();
    expect(parseMemberReport(Buffer.alloc(MAX_REPORT_PAYLOAD + 1, 32), 'd1', 'g')).toBeUndefined();
    expect(parseMemberReport(Buffer.from('{'), 'd1', 'g')).toBeUndefined();
    const d = { format: ROLLOUT_FORMAT, rolloutId: 'r', group: 'g', catalogVersion: 2, catalogSha256: 'x', catalog: '{}', signature: '{}', cutoff: 'f'.repeat(64), stage: 0, rollback: false, ts: 'x' };
    expect(parseDesired(b(d), 'g')).toEqual(d);
    expect(parseDesired(b({ ...d, cutoff: '../../' }), 'g')).toBeUndefined();
    expect(parseDesired(b({ ...d, group: 'other' }), 'g')).toBeUndefined();
    expect(parseDesired(b({ ...d, catalogVersion: 0 }), 'g')).toBeUndefined();
    const t = rolloutTopics('edgefit', 'lab');
    expect(t.memberOf('edgefit/fleet/groups/lab/dev-1')).toBe('dev-1');
    expect(t.memberOf('edgefit/fleet/groups/lab/_sync/abc')).toBeUndefined();
    expect(() => rolloutTopics('edgefit', 'a/#')).toThrow();
  });
});
