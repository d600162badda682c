import { redactUrl, hasScheme } from '../util/redact.js';

/** Settings that are secrets, and settings whose URL may carry user:password@ (mqtt.url even without its scheme). */
const SECRET = new Set(['mqtt.password']);
const WITH_USERINFO = new Set(['mqtt.url', 'camera.source', 'models.mirror']);

/**
 * A setting's value as it may be shown (config --print, configuration errors): a secret as "***" whatever its type
 * (a YAML password of digits arrives as a number), a password inside a URL hidden; paths and everything else as is.
 */
export function shownSetting(path: string, v: unknown): unknown {
  if (SECRET.has(path) && v !== '' && v !== undefined && v !== null) return '***';
  if (WITH_USERINFO.has(path) && typeof v === 'string' && (path === 'mqtt.url' || hasScheme(v))) return redactUrl(v);
  return v;
}
