import { describe, it, expect, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import mqtt from 'mqtt';
import { DaemonProcess, pulledState, fastProfile } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { startHttpServer, type TestHttpServer } from '../helpers/slow-http.js';
import { waitFor, sleep } from '../helpers/wait.js';
import { projectRoot } from '../../src/util/paths.js';

type Json = Record<string, unknown>;
const DEV = 'flood-1';
// a model the state does not have: its pull goes to the (slow) configured mirror
const PULL_ID = 'mobilenet_v1-0.75-192-int8';

/** TimeoutStopSec of the shipped unit, in ms: what systemd waits after SIGTERM before SIGKILL. */
function stopTimeoutMs(): number {
  const unit = readFileSync(join(projectRoot, 'deploy/systemd/edgefit.service'), 'utf8');
  const v = /^TimeoutStopSec=(.+)$/m.exec(unit)?.[1]?.trim();
  if (!v) throw new Error('deploy/systemd/edgefit.service has no TimeoutStopSec');
  let ms = 0;
  for (const [, n, u] of v.matchAll(/(\d+)\s*(ms|min|s)?/g)) ms += Number(n) * (u === 'ms' ? 1 : u === 'min' ? 60_000 : 1000);
  return ms;
}

/** Every whole record of outbox.log and whether the file ends exactly after the last one (no torn tail). */
function readOutboxLog(path: string): { seqs: number[]; clean: boolean } {
  const data = readFileSync(path);
  const seqs: number[] = [];
  let off = 0;
  while (off + 8 <= data.length) {
    const len = data.readUInt32LE(off);
    if (len === 0 || off + 8 + len > data.length) break;
    const body = data.subarray(off + 8, off + 8 + len);
    if (crc32(body) !== data.readUInt32LE(off + 4)) break;
    seqs.push((JSON.parse(body.toString('utf8')) as { s: number }).s);
    off += 8 + len;
  }
  return { seqs, clean: off === data.length };
}

let slow: TestHttpServer | undefined;
let broker: Mosquitto | undefined;
let daemon: DaemonProcess | undefined;
afterAll(async () => {
  await daemon?.stop('SIGKILL');
  await slow?.close();
  await broker?.stop();
});

describe('SIGTERM under a flood of commands', () => {
  it('hundreds of commands (pull-model against a mirror that never finishes, alternating budgets that switch models): the daemon stops with 0 within TimeoutStopSec, the pull is killed, the outbox is whole', async () => {
    const limitMs = stopTimeoutMs();
    const stateDir = await pulledState(['mobilenet_v1-0.25-128-int8', 'mobilenet_v1-0.5-160-int8']);
    slow = await startHttpServer();
    broker = await Mosquitto.start();
    const seen = new Set<number>();
    const statuses: Json[] = [];
    const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    sub.on('message', (t, p) => {
      if (t.endsWith('/result') || t.endsWith('/event')) seen.add((JSON.parse(p.toString()) as { seq: number }).seq);
      if (t.endsWith('/status')) statuses.push(JSON.parse(p.toString()) as Json);
    });
    await sub.subscribeAsync(`edgefit/${DEV}/#`, { qos: 1 });
    const replies: Json[] = [];
    const req = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    req.on('message', (_t, p) => replies.push(JSON.parse(p.toString()) as Json));
    await req.subscribeAsync('flood/replies', { qos: 1 });

    daemon = new DaemonProcess([
      '--broker', broker.url, '--device-id', DEV, '--state-dir', stateDir, '--camera', 'synthetic',
      '--set', `models.mirror=${slow.url}`, '--set', 'models.allowZooFallback=false', '--set', 'budget.latencyMs=1000',
      '--set', 'camera.fps=10', '--set', 'mqtt.results.mode=every', '--set', 'mqtt.telemetrySeconds=1', ...fastProfile,
    ]);
    await daemon.waitFor(() => seen.size >= 5, 'first results', 180_000);

    // the flood: waves of 40 commands every 100 ms, from before the SIGTERM until the daemon is gone
    const command = (i: number): [string, string] => {
      switch (i % 8) {
        case 0: case 4: return ['set-budget', JSON.stringify({ args: { latencyMs: i % 16 ? 0.5 : 5000 } })];
        case 1: return ['pull-model', JSON.stringify({ args: { id: PULL_ID } })];
        case 2: return ['reselect', '{}'];
        case 3: return ['snapshot', '{}'];
        case 5: return ['resume', '{}'];
        case 6: return ['set-budget', JSON.stringify({ args: { latencyMs: 5000 - (i % 4000) } })];
        default: return ['reselect', '{"args":{"x":1}}'];
      }
    };
    let sent = 0;
    let flooding = true;
    const flood = (async () => {
      while (flooding) {
        await Promise.all(Array.from({ length: 40 }, () => {
          const i = sent++;
          const [verb, body] = command(i);
          return req.publishAsync(`edgefit/${DEV}/cmd/${verb}`, body, { qos: 1, properties: { responseTopic: 'flood/replies', correlationData: Buffer.from(String(i)) } });
        }));
        await sleep(100);
      }
    })();
    const busy = (verb: string) => replies.filter((r) => r.verb === verb && (r.error as Json | undefined)?.code === 'E_BUSY').length;
    await waitFor(() => slow!.open > 0 && sent >= 400, 'the pull to be under way and 400 commands sent', 60_000);

    const t0 = Date.now();
    daemon.proc.kill('SIGTERM');
    const code = await Promise.race([daemon.exit, sleep(limitMs + 30_000).then(() => 'still running')]);
    const tookMs = Date.now() - t0;
    flooding = false;
    await flood;
    expect({ code, within: tookMs < limitMs }, `stopped after ${tookMs} ms (TimeoutStopSec ${limitMs} ms)\n${daemon.stderr.slice(-3000)}`).toEqual({ code: 0, within: true });
    console.log(`SIGTERM under a flood (${sent} commands sent): exited ${code} after ${tookMs} ms (limit ${limitMs} ms); ${replies.length} replies, busy: pull-model ${busy('pull-model')}, set-budget ${busy('set-budget')}, reselect ${busy('reselect')}, snapshot ${busy('snapshot')}`);

    // the lanes were full: more pulls and re-selections were refused than ran
    expect(busy('pull-model')).toBeGreaterThan(0);
    expect(busy('set-budget') + busy('reselect')).toBeGreaterThan(0);

    // the pull's child process went with it: the mirror sees its connection closed
    await waitFor(() => slow!.open === 0, 'the pull child to be gone (its connection closed)', 10_000);
    expect(statuses.at(-1)?.state).toBe('stopped');

    // the outbox: whole records only, and every seq up to the last one either delivered or still in the log
    await sleep(500);
    const box = join(stateDir, 'outbox');
    const cursor = JSON.parse(readFileSync(join(box, 'cursor.json'), 'utf8')) as { ackedThrough: number; lastSeq: number; dropped: number };
    const log = readOutboxLog(join(box, 'outbox.log'));
    expect(log.clean).toBe(true);
    expect(cursor.dropped).toBe(0);
    const pending = new Set(log.seqs.filter((s) => s > cursor.ackedThrough));
    const lastSeq = Math.max(cursor.lastSeq, ...log.seqs);
    expect(lastSeq).toBeGreaterThanOrEqual(Math.max(...seen));
    const lost = [];
    for (let s = 1; s <= lastSeq; s++) if (!seen.has(s) && !pending.has(s)) lost.push(s);
    expect(lost).toEqual([]);
    await sub.endAsync();
    await req.endAsync();
  }, 400_000);
});
