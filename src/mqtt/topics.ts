import { createHash } from 'node:crypto';
import { EdgefitError } from '../util/errors.js';
import type { CommandVerb } from './payloads.js';

/**
 * Every topic edgefit publishes or subscribes is built here, from levels that are validated: a device id or
 * prefix with '+', '#', '/', NUL or control characters would let one device write into another's tree.
 */
const LEVEL = /^[A-Za-z0-9._-]{1,64}$/;
const PREFIX = /^[A-Za-z0-9._-]{1,64}(\/[A-Za-z0-9._-]{1,64}){0,3}$/;

export function validateLevel(value: string, what: string): string {
  if (!LEVEL.test(value)) {
    throw new EdgefitError('E_TOPIC_LEVEL', `${what} "${printable(value)}" may only contain letters, digits, '.', '_' and '-' (1-64 characters)`);
  }
  return value;
}

export function validatePrefix(value: string): string {
  if (!PREFIX.test(value)) {
    throw new EdgefitError('E_TOPIC_PREFIX', `mqtt.prefix "${printable(value)}" must be 1-4 levels of letters, digits, '.', '_' or '-' separated by '/'`);
  }
  return value;
}

function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).slice(0, 80);
}

export interface DeviceTopics {
  base: string;
  status: string;
  model: string;
  result: string;
  telemetry: string;
  event: string;
  snapshot: string;
  /** several cameras: <base>/<camera>/result and <base>/<camera>/snapshot (one camera keeps the two above) */
  cameraResult(camera: string): string;
  cameraSnapshot(camera: string): string;
  /** subscription filter for commands */
  commands: string;
  command(verb: CommandVerb): string;
  reply(verb: string): string;
  /** the verb of a command topic, or undefined when the topic is not one of ours */
  verbOf(topic: string): string | undefined;
}

export function deviceTopics(prefix: string, deviceId: string): DeviceTopics {
  const base = `${validatePrefix(prefix)}/${validateLevel(deviceId, 'deviceId')}`;
  const cmdPrefix = `${base}/cmd/`;
  return {
    base,
    status: `${base}/status`,
    model: `${base}/model`,
    result: `${base}/result`,
    telemetry: `${base}/telemetry`,
    event: `${base}/event`,
    snapshot: `${base}/snapshot`,
    cameraResult: (camera) => `${base}/${validateLevel(camera, 'camera id')}/result`,
    cameraSnapshot: (camera) => `${base}/${validateLevel(camera, 'camera id')}/snapshot`,
    commands: `${base}/cmd/+`,
    command: (verb) => `${cmdPrefix}${validateLevel(verb, 'command verb')}`,
    reply: (verb) => `${base}/reply/${LEVEL.test(verb) ? verb : 'invalid'}`,
    verbOf: (topic) => (topic.startsWith(cmdPrefix) ? topic.slice(cmdPrefix.length) : undefined),
  };
}

/** Home Assistant discovery topics: <discoveryPrefix>/<component>/<nodeId>/<objectId>/config */
export function discoveryTopic(discoveryPrefix: string, component: 'sensor' | 'binary_sensor', deviceId: string, objectId: string): string {
  return `${validatePrefix(discoveryPrefix)}/${component}/edgefit_${validateLevel(deviceId, 'deviceId')}/${validateLevel(objectId, 'objectId')}/config`;
}

/** sha256 of a board fingerprint, as a topic level: fingerprints are long and hold any character the CPU name has */
export function fingerprintLevel(board: string): string {
  return `fp-${createHash('sha256').update(board).digest('hex').slice(0, 24)}`;
}

/**
 * The fleet's topics, beside the devices' own (`<prefix>/fleet/...`: a device's topics are `<prefix>/<id>/<kind>`,
 * three levels, and never `measurements` or `rollout`, so a device named `fleet` cannot collide with them).
 * Measurements are keyed by everything a figure depends on (docs/fleet.md): a device subscribes the subtree of
 * its own fingerprint and runtime only, never the whole fleet.
 */
export interface FleetTopics {
  /** the retained topic of one measurement */
  measurement(fp: string, ortVersion: string, sha256: string, resolution: number, provider: string, threads: number): string;
  /** subscription filter of one fingerprint and runtime */
  measurementsOf(fp: string, ortVersion: string): string;
  /** a non-retained marker under that subtree: when it comes back, every retained entry before it has arrived */
  syncMarker(fp: string, ortVersion: string, nonce: string): string;
  /** the levels of a measurement topic below the filter, or undefined */
  parseMeasurement(topic: string, fp: string, ortVersion: string): { sha256: string; resolution: number; provider: string; threads: number } | undefined;
}

export function fleetTopics(prefix: string): FleetTopics {
  const base = `${validatePrefix(prefix)}/fleet/measurements`;
  const sub = (fp: string, ort: string) => `${base}/${validateLevel(fp, 'fingerprint id')}/${validateLevel(ort, 'runtime version')}`;
  return {
    measurement: (fp, ort, sha, res, provider, threads) => `${sub(fp, ort)}/${validateLevel(sha, 'sha256')}/${res}/${validateLevel(provider, 'provider')}/${threads}`,
    measurementsOf: (fp, ort) => `${sub(fp, ort)}/#`,
    syncMarker: (fp, ort, nonce) => `${sub(fp, ort)}/sync/${validateLevel(nonce, 'nonce')}`,
    parseMeasurement: (topic, fp, ort) => {
      const head = `${sub(fp, ort)}/`;
      if (!topic.startsWith(head)) return undefined;
      const parts = topic.slice(head.length).split('/');
      if (parts.length !== 4) return undefined;
      const [sha256, res, provider, threads] = parts as [string, string, string, string];
      if (!/^[0-9a-f]{64}$/.test(sha256) || !/^[1-9][0-9]{0,4}$/.test(res) || !/^[1-9][0-9]{0,2}$/.test(threads) || !LEVEL.test(provider)) return undefined;
      return { sha256, resolution: Number(res), provider, threads: Number(threads) };
    },
  };
}
