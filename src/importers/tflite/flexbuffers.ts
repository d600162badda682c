import { EdgefitError } from '../../util/errors.js';

/**
 * A bounds-checked reader for the one FlexBuffers shape TFLite custom ops store their options in: a root map of
 * string keys to scalars. The format (flatbuffers' docs/source/Internals and flexbuffers.h) stores each value in
 * its parent's byte width; maps, keys and indirect scalars are reached by unsigned offsets that point backwards.
 * Every offset and width read here is checked against the buffer, so a corrupt model is refused, never misread.
 */

/** flexbuffers.h `enum Type` (only the ones a scalar option map uses are named) */
const T = { NULL: 0, INT: 1, UINT: 2, FLOAT: 3, KEY: 4, STRING: 5, INDIRECT_INT: 6, INDIRECT_UINT: 7, INDIRECT_FLOAT: 8, MAP: 9, BOOL: 26 } as const;

/** One map value: a number (int, uint, float, bool as 0/1), a string, null, or something else (nested map, vector, blob). */
export type FlexValue = number | string | null | { kind: 'other'; type: number };

export function readFlexMap(bytes: Uint8Array, what: string): Map<string, FlexValue> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.length;
  const fail = (msg: string, at: number): never => {
    throw new EdgefitError('E_TFLITE_PARSE', `${what}: the custom options are not a valid FlexBuffers map: ${msg} (at byte ${at} of ${len}); the file is corrupt, export it again`);
  };
  const need = (pos: number, size: number, field: string): void => {
    if (!Number.isSafeInteger(pos) || pos < 0 || pos + size > len) fail(`${field} lies outside the ${len} option bytes`, pos);
  };
  const widthOk = (w: number, at: number): number => (w === 1 || w === 2 || w === 4 || w === 8 ? w : fail(`byte width ${w}`, at));
  const readUint = (pos: number, w: number, field: string): number => {
    need(pos, w, field);
    switch (w) {
      case 1: return view.getUint8(pos);
      case 2: return view.getUint16(pos, true);
      case 4: return view.getUint32(pos, true);
      default: {
        const v = view.getBigUint64(pos, true);
        return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`${field} ${v} is too large`, pos) : Number(v);
      }
    }
  };
  const readInt = (pos: number, w: number, field: string): number => {
    need(pos, w, field);
    switch (w) {
      case 1: return view.getInt8(pos);
      case 2: return view.getInt16(pos, true);
      case 4: return view.getInt32(pos, true);
      default: {
        const v = view.getBigInt64(pos, true);
        return v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER) ? fail(`${field} ${v} is too large`, pos) : Number(v);
      }
    }
  };
  const readFloat = (pos: number, w: number, field: string): number => {
    need(pos, w, field);
    if (w === 4) return view.getFloat32(pos, true);
    if (w === 8) return view.getFloat64(pos, true);
    return fail(`${field} is a float of ${w} bytes`, pos);
  };
  /** An offset stored at `pos` (width w) points back to pos - offset. */
  const indirect = (pos: number, w: number, field: string): number => {
    const target = pos - readUint(pos, w, `offset of ${field}`);
    need(target, 1, field);
    return target;
  };
  const cString = (pos: number, field: string): string => {
    need(pos, 1, field);
    const end = bytes.indexOf(0, pos);
    if (end < 0) fail(`${field} has no terminating zero`, pos);
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(pos, end));
  };

  if (len < 3) fail('shorter than a FlexBuffers root', 0);
  const rootWidth = widthOk(bytes[len - 1]!, len - 1);
  const rootPacked = bytes[len - 2]!;
  const rootPos = len - 2 - rootWidth;
  need(rootPos, rootWidth, 'root');
  if (rootPacked >> 2 !== T.MAP) fail(`the root is of FlexBuffers type ${rootPacked >> 2}, not a map`, len - 2);
  const mapWidth = widthOk(1 << (rootPacked & 3), len - 2);
  const map = indirect(rootPos, rootWidth, 'map');
  // a map's prefix: [keys offset][keys byte width][size], each mapWidth bytes, just before its first value
  const size = readUint(map - mapWidth, mapWidth, 'map size');
  const keysWidth = widthOk(readUint(map - 2 * mapWidth, mapWidth, 'keys byte width'), map - 2 * mapWidth);
  const keys = indirect(map - 3 * mapWidth, mapWidth, 'keys vector');
  if (size > 4096) fail(`map of ${size} entries`, map);
  need(map, size * mapWidth + size, 'map values and types');
  if (readUint(keys - keysWidth, keysWidth, 'keys vector size') !== size) fail('the keys vector and the map differ in size', keys);
  need(keys, size * keysWidth, 'keys');

  const out = new Map<string, FlexValue>();
  for (let i = 0; i < size; i++) {
    const key = cString(indirect(keys + i * keysWidth, keysWidth, `key ${i}`), `key ${i}`);
    const at = map + i * mapWidth;
    const packed = bytes[map + size * mapWidth + i]!;
    const type = packed >> 2;
    const childWidth = widthOk(1 << (packed & 3), map + size * mapWidth + i);
    let value: FlexValue;
    switch (type) {
      case T.NULL: value = null; break;
      case T.INT: value = readInt(at, mapWidth, key); break;
      case T.UINT: value = readUint(at, mapWidth, key); break;
      case T.BOOL: value = readUint(at, mapWidth, key) !== 0 ? 1 : 0; break;
      case T.FLOAT: value = readFloat(at, mapWidth, key); break;
      case T.INDIRECT_INT: value = readInt(indirect(at, mapWidth, key), childWidth, key); break;
      case T.INDIRECT_UINT: value = readUint(indirect(at, mapWidth, key), childWidth, key); break;
      case T.INDIRECT_FLOAT: value = readFloat(indirect(at, mapWidth, key), childWidth, key); break;
      case T.KEY: value = cString(indirect(at, mapWidth, key), key); break;
      case T.STRING: {
        const s = indirect(at, mapWidth, key);
        const n = readUint(s - childWidth, childWidth, `length of ${key}`);
        need(s, n, key);
        value = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(s, s + n));
        break;
      }
      default: value = { kind: 'other', type };
    }
    out.set(key, value);
  }
  return out;
}
