import * as zlib from 'node:zlib';

/**
 * CRC-32 (the zlib/PNG polynomial). node:zlib has it natively from Node 20.15 only, and edgefit runs on Node 20
 * from 20.0: the newest armv7l Node on the npm registry is 20.11 (32-bit Raspberry Pi OS), where a named import of
 * `crc32` fails at link time and takes the whole daemon down. There the table below computes the same value.
 */
export const crc32: (data: Uint8Array) => number =
  (zlib as { crc32?: (data: Uint8Array) => number }).crc32 ?? crc32Table;

let table: Uint32Array | undefined;

export function crc32Table(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
