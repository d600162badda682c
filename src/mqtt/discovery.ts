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
  const sensor = (objectId: string, name: string, stateTopic: string, valueTemplate: string, extra: Record<string, unknown> = {}): DiscoveryMessage => ({
    topic: discoveryTopic(discoveryPrefix, 'sensor', deviceId, objectId),
    payload: JSON.stringify({
      name, unique_id: `edgefit_${deviceId}_${objectId}`, object_id: `edgefit_${deviceId}_${objectId}`,
      state_topic: stateTopic, value_template: valueTemplate, availability: [availability], device, ...extra,
    }),
  });
  const remove = (component: 'sensor' | 'binary_sensor', objectId: string): DiscoveryMessage => ({ topic: discoveryTopic(discoveryPrefix, component, deviceId, objectId), payload: '' });
  const watched = [...new Map((info.watchLabels ?? ['person']).map((l) => [labelObjectId(l), l])).entries()];
  if (info.cameras && info.cameras.length > 0) return camerasDiscovery(discoveryPrefix, deviceId, topics, info, info.cameras, watched, device, availability, sensor, remove);
  const detector = info.task === 'detection';
  const classification = [
    sensor('label', 'Top label', topics.result, "{{ value_json.top[0].label if value_json.top else '' }}"),
    sensor('score', 'Top score', topics.result, '{{ value_json.top[0].score if value_json.top else 0 }}', { unit_of_measurement: '', state_class: 'measurement' }),
  ];
  const detection = watched.flatMap(([id, label]) => [
    {
      topic: discoveryTopic(discoveryPrefix, 'binary_sensor', deviceId, `${id}_detected`),
      payload: JSON.stringify({
        name: `${label} detected`, unique_id: `edgefit_${deviceId}_${id}_detected`, object_id: `edgefit_${deviceId}_${id}_detected`,
        state_topic: topics.result,
        value_template: `{{ 'ON' if value_json.counts is defined and value_json.counts[${jinja(label)}] is defined else 'OFF' }}`,
        device_class: label === 'person' ? 'occupancy' : 'presence', availability: [availability], device,
      }),
    },
    sensor(`${id}_count`, `${label} count`, topics.result, `{{ value_json.counts[${jinja(label)}] | default(0) if value_json.counts is defined else 0 }}`, { state_class: 'measurement' }),
  ]);
  const removals = detector
    ? [remove('sensor', 'label'), remove('sensor', 'score')]
    : watched.flatMap(([id]) => [remove('binary_sensor', `${id}_detected`), remove('sensor', `${id}_count`)]);
  return [
    {
      topic: discoveryTopic(discoveryPrefix, 'binary_sensor', deviceId, 'status'),
      payload: JSON.stringify({
        name: 'Online', unique_id: `edgefit_${deviceId}_status`, object_id: `edgefit_${deviceId}_status`,
        state_topic: topics.status, value_template: "{{ 'ON' if value_json.state == 'online' else 'OFF' }}",
        device_class: 'connectivity', device,
      }),
    },
    ...(detector ? detection : classification),
    sensor('fps', 'Inference rate', topics.telemetry, '{{ value_json.fps }}', { unit_of_measurement: 'fps', state_class: 'measurement' }),
    sensor('latency', 'Latency p90', topics.telemetry, '{{ value_json.latencyMs.p90 }}', { unit_of_measurement: 'ms', state_class: 'measurement' }),
    sensor('temperature', 'CPU temperature', topics.telemetry, '{{ value_json.temperatureC }}', { unit_of_measurement: '°C', device_class: 'temperature', state_class: 'measurement' }),
    ...removals,
  ];
}

type Sensor = (objectId: string, name: string, stateTopic: string, valueTemplate: string, extra?: Record<string, unknown>) => DiscoveryMessage;

/**
 * Several cameras: the device's own entities (online, CPU temperature) once, and per camera the entities of its
 * task on its own result topic, its inference rate and latency from its telemetry entry. Object ids (and so the
 * unique ids) start with the camera id: `<camera>_label`, `<camera>_person_detected`, `<camera>_fps`. The
 * one-camera entities (label, score, fps, latency, and the watched labels) are listed as removals, so a device
 * that went from one camera to several keeps no dead entity.
 */
function camerasDiscovery(
  discoveryPrefix: string, deviceId: string, topics: DeviceTopics, info: DiscoveryInfo, cameras: NonNullable<DiscoveryInfo['cameras']>,
  watched: [string, string][], device: Record<string, unknown>, availability: Record<string, unknown>, sensor: Sensor,
  remove: (component: 'sensor' | 'binary_sensor', objectId: string) => DiscoveryMessage,
): DiscoveryMessage[] {
  const perCamera = cameras.flatMap((cam) => {
    const result = topics.cameraResult(cam.id);
    const oid = (x: string) => `${cam.id}_${x}`;
    const tele = (field: string) => `{{ (value_json.cameras | selectattr('id', 'equalto', ${jinja(cam.id)}) | map(attribute=${jinja(field)}) | first) if value_json.cameras is defined else 0 }}`;
    const own = cam.task === 'detection'
      ? watched.flatMap(([id, label]) => [
        {
          topic: discoveryTopic(discoveryPrefix, 'binary_sensor', deviceId, oid(`${id}_detected`)),
          payload: JSON.stringify({
            name: `${cam.id} ${label} detected`, unique_id: `edgefit_${deviceId}_${oid(`${id}_detected`)}`, object_id: `edgefit_${deviceId}_${oid(`${id}_detected`)}`,
            state_topic: result,
            value_template: `{{ 'ON' if value_json.counts is defined and value_json.counts[${jinja(label)}] is defined else 'OFF' }}`,
            device_class: label === 'person' ? 'occupancy' : 'presence', availability: [availability], device,
          }),
        },
        sensor(oid(`${id}_count`), `${cam.id} ${label} count`, result, `{{ value_json.counts[${jinja(label)}] | default(0) if value_json.counts is defined else 0 }}`, { state_class: 'measurement' }),
      ])
      : [
        sensor(oid('label'), `${cam.id} top label`, result, "{{ value_json.top[0].label if value_json.top else '' }}"),
        sensor(oid('score'), `${cam.id} top score`, result, '{{ value_json.top[0].score if value_json.top else 0 }}', { unit_of_measurement: '', state_class: 'measurement' }),
      ];
    const other = cam.task === 'detection'
      ? [remove('sensor', oid('label')), remove('sensor', oid('score'))]
      : watched.flatMap(([id]) => [remove('binary_sensor', oid(`${id}_detected`)), remove('sensor', oid(`${id}_count`))]);
    return [
      ...own,
      sensor(oid('fps'), `${cam.id} inference rate`, topics.telemetry, tele('fps'), { unit_of_measurement: 'fps', state_class: 'measurement' }),
      sensor(oid('latency'), `${cam.id} latency p90`, topics.telemetry, tele('p90Ms'), { unit_of_measurement: 'ms', state_class: 'measurement' }),
      ...other,
    ];
  });
  return [
    {
      topic: discoveryTopic(discoveryPrefix, 'binary_sensor', deviceId, 'status'),
      payload: JSON.stringify({
        name: 'Online', unique_id: `edgefit_${deviceId}_status`, object_id: `edgefit_${deviceId}_status`,
        state_topic: topics.status, value_template: "{{ 'ON' if value_json.state == 'online' else 'OFF' }}",
        device_class: 'connectivity', device,
      }),
    },
    ...perCamera,
    sensor('temperature', 'CPU temperature', topics.telemetry, '{{ value_json.temperatureC }}', { unit_of_measurement: '°C', device_class: 'temperature', state_class: 'measurement' }),
    remove('sensor', 'label'), remove('sensor', 'score'), remove('sensor', 'fps'), remove('sensor', 'latency'),
    ...watched.flatMap(([id]) => [remove('binary_sensor', `${id}_detected`), remove('sensor', `${id}_count`)]),
  ];
}
