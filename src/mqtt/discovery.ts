import { discoveryTopic, type DeviceTopics } from './topics.js';

export interface DiscoveryMessage { topic: string; payload: string }

/**
 * Home Assistant MQTT discovery: one retained config per entity, all grouped under one HA device.
 * Republished when Home Assistant announces itself online on <prefix>/status.
 */
export function discoveryMessages(discoveryPrefix: string, deviceId: string, topics: DeviceTopics, info: { version: string; board: string }): DiscoveryMessage[] {
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
  return [
    {
      topic: discoveryTopic(discoveryPrefix, 'binary_sensor', deviceId, 'status'),
      payload: JSON.stringify({
        name: 'Online', unique_id: `edgefit_${deviceId}_status`, object_id: `edgefit_${deviceId}_status`,
        state_topic: topics.status, value_template: "{{ 'ON' if value_json.state == 'online' else 'OFF' }}",
        device_class: 'connectivity', device,
      }),
    },
    sensor('label', 'Top label', topics.result, "{{ value_json.top[0].label if value_json.top else '' }}"),
    sensor('score', 'Top score', topics.result, '{{ value_json.top[0].score if value_json.top else 0 }}', { unit_of_measurement: '', state_class: 'measurement' }),
    sensor('fps', 'Inference rate', topics.telemetry, '{{ value_json.fps }}', { unit_of_measurement: 'fps', state_class: 'measurement' }),
    sensor('latency', 'Latency p90', topics.telemetry, '{{ value_json.latencyMs.p90 }}', { unit_of_measurement: 'ms', state_class: 'measurement' }),
    sensor('temperature', 'CPU temperature', topics.telemetry, '{{ value_json.temperatureC }}', { unit_of_measurement: '°C', device_class: 'temperature', state_class: 'measurement' }),
  ];
}
