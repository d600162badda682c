import { describe, it, expect } from 'vitest';
import { CommandDispatcher, type CommandHandlers } from '../../src/mqtt/commands.js';
import type { ReplyPayload } from '../../src/mqtt/payloads.js';
import { EdgefitError, isErrorCode } from '../../src/util/errors.js';

/** A handler that runs until released, counting how many run at once. */
function gated() {
  let running = 0;
  let peak = 0;
  let calls = 0;
  const waiters: Array<() => void> = [];
  const fn = async () => {
    calls++;
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((r) => waiters.push(r));
    running--;
    return { done: true };
  };
  return {
    fn,
    get running() { return running; },
    get peak() { return peak; },
    get calls() { return calls; },
    releaseAll() { for (const w of waiters.splice(0)) w(); },
    releaseOne() { waiters.shift()?.(); },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

function dispatcher(over: Partial<CommandHandlers>, timeoutMs = 60_000) {
  const idle = async () => ({});
  const handlers: CommandHandlers = { reselect: idle, 'set-budget': idle, pause: idle, resume: idle, 'pull-model': idle, snapshot: idle, ...over } as CommandHandlers;
  return new CommandDispatcher(handlers, timeoutMs);
}

const body = (o: unknown) => Buffer.from(JSON.stringify(o));

describe('commands under load: lanes with bounded slots, a `busy` reply past them', () => {
  it('one pull-model at a time: a second one while the first runs is answered `busy` at once; after it, a pull runs again', async () => {
    const pull = gated();
    const d = dispatcher({ 'pull-model': pull.fn });
    const first = d.handle('pull-model', body({ id: 'p1' }));
    await tick();
    const second = await Promise.race([d.handle('pull-model', body({ id: 'p2', args: { id: 'x' } })), new Promise((r) => setTimeout(() => r('no reply within 2 s'), 2000))]);
    expect(second).toMatchObject({ id: 'p2', ok: false, error: { code: 'E_BUSY', message: expect.stringMatching(/pull-model is already running/) } });
    expect(pull.calls).toBe(1);
    pull.releaseAll();
    expect(await first).toMatchObject({ ok: true });
    // refused as busy, the same id may be sent again (it never ran)
    const again = d.handle('pull-model', body({ id: 'p2' }));
    await tick();
    pull.releaseAll();
    expect(await again).toMatchObject({ id: 'p2', ok: true });
    expect(pull.peak).toBe(1);
  });

  it('a flood of reselect/set-budget: one runs, a bounded few wait (in order), the rest are `busy`; nothing runs later', async () => {
    const sel = gated();
    const order: string[] = [];
    const d = dispatcher({
      reselect: async () => { order.push('reselect'); return sel.fn(); },
      'set-budget': async (a) => { order.push(`budget ${a.latencyMs}`); return sel.fn(); },
    });
    const replies: Promise<ReplyPayload>[] = [];
    for (let i = 0; i < 200; i++) replies.push(i % 2 ? d.handle('reselect', body({})) : d.handle('set-budget', body({ args: { latencyMs: i + 1 } })));
    await tick();
    expect(sel.running).toBe(1);
    for (let i = 0; i < 20 && sel.calls < 200; i++) { sel.releaseOne(); await tick(); }
    sel.releaseAll();
    const all = await Promise.all(replies);
    const ok = all.filter((r) => r.ok);
    const busy = all.filter((r) => r.error?.code === 'E_BUSY');
    expect(ok.length + busy.length).toBe(200);
    expect(ok.length).toBeLessThanOrEqual(6);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(busy[0]!.error!.message).toMatch(/re-selections .* waiting already; send this again/);
    expect(sel.peak).toBe(1);
    expect(sel.calls).toBe(ok.length);
    // the accepted ones ran in the order they came
    expect(order[0]).toBe('budget 1');
    await new Promise((r) => setTimeout(r, 50));
    expect(sel.calls).toBe(ok.length);
  });

  it('a command that waited past its deadline is answered `timeout` and never runs; the one running keeps its slot until it ends', async () => {
    const sel = gated();
    const d = dispatcher({ reselect: sel.fn }, 100);
    const a = d.handle('reselect', body({ id: 'a' }));
    const b = d.handle('reselect', body({ id: 'b' }));
    expect(await a).toMatchObject({ id: 'a', ok: false, error: { code: 'E_TIMEOUT' } });
    expect(await b).toMatchObject({ id: 'b', ok: false, error: { code: 'E_TIMEOUT' } });
    // 'a' is still running: a third command waits for it, not beside it
    const c = d.handle('reselect', body({ id: 'c' }));
    await tick();
    expect(sel.running).toBe(1);
    sel.releaseOne();
    await tick();
    sel.releaseAll();
    expect(await c).toMatchObject({ id: 'c', ok: true });
    expect(sel.calls).toBe(2); // a and c; b expired while waiting
    expect(sel.peak).toBe(1);
  });

  it('pull-model is not cut by the reply deadline: it bounds itself (models.pullTimeoutSeconds), and its reply says how it ended', async () => {
    const d = dispatcher({ 'pull-model': async () => { await new Promise((r) => setTimeout(r, 300)); return { pulled: [] }; } }, 100);
    expect(await d.handle('pull-model', body({ id: 'slow' }))).toMatchObject({ id: 'slow', ok: true, result: { pulled: [] } });
  });

  it('cheap verbs (pause, resume) are not limited', async () => {
    const d = dispatcher({});
    const all = await Promise.all(Array.from({ length: 100 }, (_, i) => d.handle(i % 2 ? 'pause' : 'resume', body({}))));
    expect(all.every((r) => r.ok)).toBe(true);
  });
});

describe('reply codes: one documented form', () => {
  it('an EdgefitError keeps its code; any other error is E_FAILED with its message; refusals use the same form', async () => {
    const d = dispatcher({
      pause: async () => { throw new EdgefitError('E_NO_FRAME', 'no frame yet'); },
      resume: async () => { throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' }); },
    });
    expect(await d.handle('pause', body({}))).toMatchObject({ ok: false, error: { code: 'E_NO_FRAME', message: 'no frame yet' } });
    expect(await d.handle('resume', body({}))).toMatchObject({ ok: false, error: { code: 'E_FAILED', message: 'ENOENT: no such file' } });
    const refusals = await Promise.all([d.handle('nope', body({})), d.handle('pause', Buffer.from('{x')), d.handle('pause', body({ extra: 1 }))]);
    for (const r of refusals) expect(isErrorCode(r.error?.code)).toBe(true);
  });
});
