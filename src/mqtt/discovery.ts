import { createHash } from 'node:crypto';
import { discoveryTopic, type DeviceTopics } from './topics.js';

/** `payload` '' = remove the entity (an empty retained config is Home Assistant's way to delete one) */
export interface DiscoveryMessage { topic: string; payload: string }

export interface DiscoveryInfo {
  version: string;
  board: string;
  /** what the running model's results hold; default classification */
  task?: 'classification' | 'detection';
  /** detection: the labels that get a binary sensor and a count sensor */
  watchLabels?: readonly string[];
  /** several cameras: one set of entities per camera (its result topic, its task), unique ids with the camera id */
  cameras?: readonly { id: string; task: 'classification' | 'detection' }[];
}

/** A label as a topic level and entity id: lower-case letters, digits and '_' ("traffic light" -> traffic_light). */
export function labelObjectId(label: string): string {
  const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40);
  // a label of no ASCII letter or digit still needs a stable id of its own
  return slug || `label_${createHash('sha256').update(label).digest('hex').slice(0, 8)}`;
}

/** a Jinja string literal (labels carry no control characters: the config refuses them) */
const jinja = (s: string) => JSON.stringify(s);

/**
 * Home Assistant MQTT discovery: one retained config per entity, all grouped under one HA device.
 * Republished when Home Assistant announces itself online on <prefix>/status. A classifier has "Top label" and
 * "Top score"; a detector has, per watched label, a binary sensor "<label> detected" and a sensor "<label> count".
 * The entities of the other task are listed as removals (empty payload), so a device whose task changed does not
 * leave dead entities behind.
 */
export function discoveryMessages(discoveryPrefix: string, deviceId: string, topics: DeviceTopics, info: DiscoveryInfo): DiscoveryMessage[] {
  const device = {
    identifiers: [`edgefit_${deviceId}`],
    name: `edgefit ${deviceId}`,
    manufacturer: 'edgefit',
    model: info.board,
    sw_version: info.version,
  };
  const availability = { topic: topics.status, value_template: '{{ value_json.state }}', payload_available: 'online', payload_not_available: 'offline' };
  const e: Entities = {
    sensor: (objectId, name, stateTopic, valueTemplate, extra = {}) => ({
      topic: discoveryTopic(discoveryPrefix, 'sensor', deviceId, objectId),
      payload: JSON.stringify({
        name, unique_id: `edgefit_${deviceId}_${objectId}`, object_id: `edgefit_${deviceId}_${objectId}`,
        state_topic: stateTopic, value_template: valueTemplate, availability: [availability], device, ...extra,
      }),
    }),
    detected: (objectId, name, stateTopic, label) => ({
      topic: discoveryTopic(discoveryPrefix, 'binary_sensor', deviceId, objectId),
      payload: JSON.stringify({
        name, unique_id: `edgefit_${deviceId}_${objectId}`, object_id: `edgefit_${deviceId}_${objectId}`,
        state_topic: stateTopic,
        value_template: `{{ 'ON' if value_json.counts is defined and value_json.counts[${jinja(label)}] is defined else 'OFF' }}`,
        device_class: label === 'person' ? 'occupancy' : 'presence', availability: [availability], device,
      }),
    }),
    remove: (component, objectId) => ({ topic: discoveryTopic(discoveryPrefix, component, deviceId, objectId), payload: '' }),
  };
  const watched = [...new Map((info.watchLabels ?? ['person']).map((l) => [labelObjectId(l), l])).entries()];
  const status: DiscoveryMessage = {
    topic: discoveryTopic(discoveryPrefix, 'binary_sensor', deviceId, 'status'),
    payload: JSON.stringify({
      name: 'Online', unique_id: `edgefit_${deviceId}_status`, object_id: `edgefit_${deviceId}_status`,
      state_topic: topics.status, value_template: "{{ 'ON' if value_json.state == 'online' else 'OFF' }}",
      device_class: 'connectivity', device,
    }),
  };
  const temperature = e.sensor('temperature', 'CPU temperature', topics.telemetry, '{{ value_json.temperatureC }}', { unit_of_measurement: '°C', device_class: 'temperature', state_class: 'measurement' });
  const device1: Scope = { oid: (x) => x, name: (x) => x, result: topics.result };
  if (info.cameras && info.cameras.length > 0) {
    // several cameras: the device's own entities once, and per camera the entities of its task on its result
    // topic, its rate and latency from its telemetry entry; object ids (so unique ids) start with the camera id
    const perCamera = info.cameras.flatMap((cam) => {
      const scope: Scope = { oid: (x) => `${cam.id}_${x}`, name: (x, lower = x) => `${cam.id} ${lower}`, result: topics.cameraResult(cam.id) };
      const tele = (field: string) => `{{ (value_json.cameras | selectattr('id', 'equalto', ${jinja(cam.id)}) | map(attribute=${jinja(field)}) | first) if value_json.cameras is defined else 0 }}`;
      const t = taskEntities(e, scope, cam.task, watched);
      return [...t.own, ...rateEntities(e, scope, topics.telemetry, tele('fps'), tele('p90Ms')), ...t.other];
    });
    // the one-camera entities are removed, so a device that went from one camera to several keeps no dead entity
    const one = taskEntities(e, device1, 'classification', watched);
    const oneDetector = taskEntities(e, device1, 'detection', watched);
    return [status, ...perCamera, temperature, ...oneDetector.other, e.remove('sensor', 'fps'), e.remove('sensor', 'latency'), ...one.other];
  }
  const t = taskEntities(e, device1, info.task, watched);
  return [status, ...t.own, ...rateEntities(e, device1, topics.telemetry, '{{ value_json.fps }}', '{{ value_json.latencyMs.p90 }}'), temperature, ...t.other];
}

/** Builders of one device's entities (its HA device, availability and discovery prefix bound). */
interface Entities {
  sensor(objectId: string, name: string, stateTopic: string, valueTemplate: string, extra?: Record<string, unknown>): DiscoveryMessage;
  /** "<label> detected": a binary sensor on a detector's result */
  detected(objectId: string, name: string, stateTopic: string, label: string): DiscoveryMessage;
  remove(component: 'sensor' | 'binary_sensor', objectId: string): DiscoveryMessage;
}

/** Whose entities: the device (one camera: its own names) or one camera of several (ids and names prefixed). */
interface Scope {
  oid(x: string): string;
  /** the one-camera name, or the camera's: its id and the name in lower case (given when it differs) */
  name(oneCamera: string, lower?: string): string;
  result: string;
}

/**
 * The entities of a task on a result topic, and the removals of the other task's: a classifier has "Top label" and
 * "Top score"; a detector has, per watched label, "<label> detected" and "<label> count". A device or camera whose
 * task changed leaves no dead entity behind.
 */
function taskEntities(e: Entities, s: Scope, task: string | undefined, watched: [string, string][]): { own: DiscoveryMessage[]; other: DiscoveryMessage[] } {
  const detector = task === 'detection';
  const own = detector
    ? watched.flatMap(([id, label]) => [
      e.detected(s.oid(`${id}_detected`), s.name(`${label} detected`), s.result, label),
      e.sensor(s.oid(`${id}_count`), s.name(`${label} count`), s.result, `{{ value_json.counts[${jinja(label)}] | default(0) if value_json.counts is defined else 0 }}`, { state_class: 'measurement' }),
    ])
    : [
      e.sensor(s.oid('label'), s.name('Top label', 'top label'), s.result, "{{ value_json.top[0].label if value_json.top else '' }}"),
      e.sensor(s.oid('score'), s.name('Top score', 'top score'), s.result, '{{ value_json.top[0].score if value_json.top else 0 }}', { unit_of_measurement: '', state_class: 'measurement' }),
    ];
  const other = detector
    ? [e.remove('sensor', s.oid('label')), e.remove('sensor', s.oid('score'))]
    : watched.flatMap(([id]) => [e.remove('binary_sensor', s.oid(`${id}_detected`)), e.remove('sensor', s.oid(`${id}_count`))]);
  return { own, other };
}

/** Inference rate and latency p90, from the telemetry (the device's figures, or a camera's entry). */
function rateEntities(e: Entities, s: Scope, telemetry: string, fps: string, p90: string): DiscoveryMessage[] {
  return [
    e.sensor(s.oid('fps'), s.name('Inference rate', 'inference rate'), telemetry, fps, { unit_of_measurement: 'fps', state_class: 'measurement' }),
    e.sensor(s.oid('latency'), s.name('Latency p90', 'latency p90'), telemetry, p90, { unit_of_measurement: 'ms', state_class: 'measurement' }),
  ];
}
