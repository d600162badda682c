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
