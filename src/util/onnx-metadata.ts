import { open } from 'node:fs/promises';
import { EdgefitError } from './errors.js';

// ModelProto field numbers (onnx.proto): metadata_props is `repeated StringStringEntryProto metadata_props = 14`,
// an entry is { string key = 1; string value = 2; }.
const METADATA_PROPS = 14;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;
/** a metadata entry larger than this is not edgefit's (scales and zero points are a few bytes) */
const MAX_ENTRY = 1 << 20;
const CHUNK = 64 * 1024;

/**
 * The metadata_props of an ONNX file, read without reading its graph: the top-level fields are walked on the
 * file and every field but metadata_props is skipped by its length. A full parse (readOnnx) copies every
 * initializer into the JS heap only to drop them again: tens of MB for a model whose scale is 10 bytes.
 */
export async function readOnnxMetadata(path: string): Promise<Map<string, string>> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.allocUnsafe(CHUNK);
    let bufStart = 0;
    let bufLen = 0;
    const bad = (why: string): never => {
      throw new EdgefitError('E_MODEL_IO', `${path} is not a valid ONNX file (${why}); re-import it with \`edgefit import\``);
    };
    /** makes [pos, pos + n) readable in buf (n <= CHUNK) */
    const want = async (pos: number, n: number): Promise<void> => {
      if (pos >= bufStart && pos + n <= bufStart + bufLen) return;
      const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
      bufStart = pos;
      bufLen = bytesRead;
      if (bytesRead < n) bad(`truncated at byte ${pos}`);
    };
    const varint = async (pos: number): Promise<[number, number]> => {
      await want(pos, Math.min(10, size - pos));
      let v = 0;
      let mul = 1;
      for (let i = 0; i < 10; i++) {
        if (pos + i >= size) bad(`truncated varint at byte ${pos}`);
        const b = buf[pos + i - bufStart]!;
        v += (b & 0x7f) * mul;
        mul *= 128;
        if (b < 0x80) return [v, pos + i + 1];
      }
      return bad(`overlong varint at byte ${pos}`);
    };
    const out = new Map<string, string>();
    let pos = 0;
    while (pos < size) {
      const [tag, p1] = await varint(pos);
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === 0) bad(`field number 0 at byte ${pos}`);
      switch (wire) {
        case 0: pos = (await varint(p1))[1]; break;
        case 1: pos = p1 + 8; break;
        case 5: pos = p1 + 4; break;
        case 2: {
          const [len, p2] = await varint(p1);
          if (p2 + len > size) bad(`field ${field} runs past the end of the file`);
          if (field === METADATA_PROPS) {
            if (len > MAX_ENTRY) bad(`a metadata entry of ${len} bytes`);
            const entry = Buffer.alloc(len);
            if ((await fh.read(entry, 0, len, p2)).bytesRead < len) bad('truncated metadata entry');
            const [k, v] = parseEntry(entry, bad);
            out.set(k, v);
          }
          pos = p2 + len;
          break;
        }
        default: bad(`wire type ${wire} at byte ${pos}`);
      }
    }
    if (pos !== size) bad('the last field runs past the end of the file');
    return out;
  } finally {
    await fh.close();
  }
}

function parseEntry(b: Buffer, bad: (why: string) => never): [string, string] {
  let key = '';
  let value = '';
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (let n = 0; n < 10 && i < b.length; n++) {
      const x = b[i++]!;
      v += (x & 0x7f) * mul;
      mul *= 128;
      if (x < 0x80) return v;
    }
    return bad('bad varint in a metadata entry');
  };
  while (i < b.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint();
      if (i + len > b.length) bad('a metadata string runs past its entry');
      const s = b.toString('utf8', i, i + len);
      i += len;
      if (tag >>> 3 === ENTRY_KEY) key = s;
      else if (tag >>> 3 === ENTRY_VALUE) value = s;
    } else if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else bad(`wire type ${wire} in a metadata entry`);
  }
  if (i !== b.length) bad('a metadata entry overruns');
  return [key, value];
}
