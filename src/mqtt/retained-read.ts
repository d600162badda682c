/**
 * Reading a subscription's retained messages completely, without guessing a quiet period: subscribe, and after
 * the SUBACK publish an empty marker on a topic the subscription also covers. The broker sends a subscription's
 * retained messages before it handles any later publish, so when the marker comes back every retained message
 * has arrived. A fixed wait from before the subscription missed retained state on a loaded machine (the round
 * trip alone took longer); the fleet seed and the rollout commands both read this way.
 */
import type { MqttClient } from 'mqtt';

export type RetainedReadEnd = 'marker' | 'timeout' | 'refused';

export interface RetainedRead {
  /** the filters to subscribe; one of them must match `marker` */
  filters: string[];
  /** a topic unique to this read (a nonce level), published once after the SUBACK */
  marker: string;
  /** give up this long after the SUBACK (a broker that drops the marker: an ACL without write access) */
  waitMs: number;
  /** every other message of the subscription, in arrival order (an empty payload clears a retained topic) */
  onMessage(topic: string, payload: Buffer): void;
  onMarkerError?(err: Error): void;
}

/** Resolves how the read ended; the subscription stays (the caller unsubscribes or ends the client). */
export function readRetainedUntilMarker(client: MqttClient, r: RetainedRead): Promise<RetainedReadEnd> {
  return new Promise<RetainedReadEnd>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    function end(how: RetainedReadEnd): void {
      if (ended) return;
      ended = true;
      if (timer) clearTimeout(timer);
      client.off('message', onMessage);
      resolve(how);
    }
    function onMessage(topic: string, payload: Buffer): void {
      if (ended) return;
      if (topic === r.marker) end('marker');
      else r.onMessage(topic, payload);
    }
    client.on('message', onMessage);
    client.subscribe(r.filters, { qos: 1 }, (err, granted) => {
      if (err || !granted || granted.some((g) => g.qos >= 128)) { end('refused'); return; }
      timer = setTimeout(() => end('timeout'), r.waitMs);
      client.publish(r.marker, '', { qos: 1, retain: false }, (e) => { if (e) r.onMarkerError?.(e); });
    });
  });
}
