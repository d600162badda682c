import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import { crc32, crc32Table } from '../../src/util/crc32.js';

describe('crc32 (Node 20 before 20.15 has no zlib.crc32: 32-bit Raspberry Pi OS on the npm registry\'s armv7l Node 20.11)', () => {
  it('the table computes the check value of the CRC-32 catalogue and zlib\'s value on random data', () => {
    expect(crc32Table(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32Table(new Uint8Array(0))).toBe(0);
    const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
    for (const n of [1, 7, 255, 4096, 100_003]) {
      const d = randomBytes(n);
      expect(crc32Table(d)).toBe(crc32(d));
      if (native) expect(crc32Table(d)).toBe(native(d));
    }
  });
});
