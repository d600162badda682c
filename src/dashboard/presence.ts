import type { DeviceState } from '../mqtt/payloads.js';

/**
 * The one definition of whether a device is online, used by every count the dashboard shows: the store puts
 * its verdict on each row (the page's header and table, /api/devices) and counts rows by it per board
 * (/api/boards). Two definitions once disagreed on the same fleet ("300 devices, 0 online" above a table
 * saying 60 of 60 online per board).
 *
 *   stale:  the device says it runs (online, degraded) or has not said (unknown), and its telemetry is
 *           overdue: none for STALE_PERIODS of its own period, or none at all within NO_TELEMETRY_MS of the
 *           dashboard first hearing of it (a retained "online" from a device that died without its will).
 *           A stopped or offline device is not stale: it said it would be silent.
 *   online: says online or degraded, and is not stale.
 */
export const STALE_PERIODS = 3;
/** the shortest period staleness is judged on: telemetry arriving in bursts must not flicker */
export const MIN_STALE_PERIOD_MS = 1000;
/** three periods of the daemon's default mqtt.telemetrySeconds (30) */
export const NO_TELEMETRY_MS = 90_000;

export interface PresenceInput {
  state: DeviceState | 'unknown';
  /** when the newest telemetry arrived here, if any did */
  seenAt: number | undefined;
  /** the telemetry period learned from arrivals (ms) */
  periodMs: number;
  /** when this dashboard first heard of the device */
  firstSeen: number;
}

export function presence(d: PresenceInput, now: number): { stale: boolean; online: boolean } {
  const overdue = d.seenAt === undefined
    ? now - d.firstSeen > NO_TELEMETRY_MS
    : now - d.seenAt > STALE_PERIODS * Math.max(d.periodMs, MIN_STALE_PERIOD_MS);
  const running = d.state === 'online' || d.state === 'degraded';
  const stale = overdue && (running || d.state === 'unknown');
  return { stale, online: running && !stale };
}
