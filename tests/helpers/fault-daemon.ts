import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonProcess, fastProfile } from './daemon.js';
import { type Accounting, type Consumer, type OutboxCursor, readCursor, waitFor } from './consumer.js';
import type { ResultPayload } from '../../src/mqtt/payloads.js';

export interface FaultDaemonOptions {
  broker: string;
  deviceId: string;
  stateDir: string;
  camera?: string;
  /** extra `--set path=value` settings */
  set?: string[];
  json?: boolean;
}

/**
 * The test-only engines `fault-hang` and `fault-crash` (tests/helpers/fault-engines.mjs), for
 * HostOptions.engineModules or the daemon's engine.modules; EDGEFIT_TEST_FAULT_ENGINE picks the one the daemon runs.
 */
export const faultEnginesModule = fileURLToPath(new URL('./fault-engines.mjs', import.meta.url));

/** `edgefit run` arguments for the fault tests: short telemetry and keepalive, every result published. */
export function faultArgs(o: FaultDaemonOptions): string[] {
  return [
    '--broker', o.broker, '--device-id', o.deviceId, '--state-dir', o.stateDir, '--camera', o.camera ?? 'synthetic',
    ...(o.json === false ? [] : ['--json']),
    '--set', 'mqtt.results.mode=every', '--set', 'mqtt.telemetrySeconds=1', '--set', 'mqtt.keepaliveSeconds=2',
    // outages in these tests are seconds long: keep the reconnect backoff in proportion
    '--set', 'mqtt.reconnectMaxSeconds=4',
    '--set', 'mqtt.homeAssistant.enabled=false', '--set', 'adapt.enabled=false',
    ...fastProfile, ...(o.set ?? []).flatMap((s) => ['--set', s]),
  ];
}

/** The results the daemon printed with --json (printed only once the outbox accepted them); complete lines only. */
export function printedResults(stdout: string): ResultPayload[] {
  const lines = stdout.split('\n');
  lines.pop(); // the last element is an unterminated line (or empty)
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ResultPayload);
}

/** Seqs of the results the daemon printed with --json. */
export function acceptedSeqs(stdout: string): number[] {
  return printedResults(stdout).map((r) => r.seq);
}

/**
 * The end of a fault scenario: the daemon must still answer a command and produce a fresh result, then it is
 * paused, its outbox drained (telemetry reports depth 0), stopped cleanly, and the consumer's record is
 * accounted against the outbox cursor (lastSeq, dropped) the daemon wrote.
 */
export async function settle(d: DaemonProcess, c: Consumer, stateDir: string): Promise<{ cursor: OutboxCursor; acc: Accounting }> {
  const before = c.maxSeq();
  await c.waitFor(() => c.maxSeq() > before, 'a fresh result (the daemon still produces)');
  const reply = await c.command('pause');
  if (reply.ok !== true) throw new Error(`pause refused: ${JSON.stringify(reply)}`);
  const t0 = c.telemetry.length;
  await c.waitFor(() => c.telemetry.slice(t0 + 1).some((t) => (t.outbox as { depth: number }).depth === 0), 'the outbox drained (telemetry depth 0)', 60_000);
  const code = await d.stop('SIGTERM');
  if (code !== 0) throw new Error(`the daemon exited ${code} on SIGTERM:\n${d.stderr.slice(-2000)}`);
  const cursor = readCursor(stateDir);
  return { cursor, acc: c.account(cursor) };
}

/** Every JSON file under dir parses (state files after a crash); returns the files checked. */
export function jsonFilesParse(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.json')) { JSON.parse(readFileSync(p, 'utf8')); out.push(p); }
    }
  };
  walk(dir);
  return out;
}

export { waitFor };
