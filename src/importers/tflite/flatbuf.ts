import { ByteBuffer } from 'flatbuffers';
import { EdgefitError } from '../../util/errors.js';

/** A table position plus its vtable, both validated against the buffer length. */
export interface FbTable {
  pos: number;
  vt: number;
  vtLen: number;
  tableLen: number;
  /** schema name, for error messages */
  what: string;
}

/**
 * Bounds-checked reads over the flatbuffers runtime's ByteBuffer. The generated flatbuffers code trusts its
 * input (an offset past the end reads `undefined` as 0 or garbage); a model file is untrusted, so every
 * offset, vtable and vector length is checked here and a bad one is refused with its offset and field.
 */
export class FbReader {
  readonly bb: ByteBuffer;
  readonly len: number;

  constructor(readonly bytes: Uint8Array, readonly source: string) {
    this.bb = new ByteBuffer(bytes);
    this.len = bytes.length;
  }

  fail(what: string, offset: number): never {
    throw new EdgefitError(
      'E_TFLITE_PARSE',
      `${this.source} is not a valid TFLite file: ${what} (at byte offset ${offset} of ${this.len}); the file is truncated or corrupt, download or export it again`,
    );
  }

  private need(pos: number, size: number, what: string): void {
    if (!Number.isSafeInteger(pos) || pos < 0 || pos + size > this.len) this.fail(`${what} lies outside the file`, pos);
  }

  u8(pos: number, what: string): number { this.need(pos, 1, what); return this.bb.readUint8(pos); }
  u16(pos: number, what: string): number { this.need(pos, 2, what); return this.bb.readUint16(pos); }
  i32(pos: number, what: string): number { this.need(pos, 4, what); return this.bb.readInt32(pos); }
  u32(pos: number, what: string): number { this.need(pos, 4, what); return this.bb.readUint32(pos); }
  f32(pos: number, what: string): number { this.need(pos, 4, what); return this.bb.readFloat32(pos); }
  i64(pos: number, what: string): bigint { this.need(pos, 8, what); return this.bb.readInt64(pos); }

  /** The table a uoffset at `pos` points to. */
  tableAt(refPos: number, what: string): FbTable {
    const pos = refPos + this.u32(refPos, `offset of ${what}`);
    this.need(pos, 4, what);
    const vt = pos - this.i32(pos, `vtable offset of ${what}`);
    this.need(vt, 4, `vtable of ${what}`);
    const vtLen = this.u16(vt, `vtable size of ${what}`);
    const tableLen = this.u16(vt + 2, `table size of ${what}`);
    if (vtLen < 4 || vtLen % 2 !== 0) this.fail(`vtable of ${what} has impossible size ${vtLen}`, vt);
    this.need(vt, vtLen, `vtable of ${what}`);
    if (tableLen < 4) this.fail(`${what} has impossible size ${tableLen}`, pos);
    this.need(pos, tableLen, what);
    return { pos, vt, vtLen, tableLen, what };
  }

  root(what: string): FbTable {
    return this.tableAt(0, what);
  }

  /** Absolute position of field `id` inside table `t`, or 0 when absent; checks it fits in the table. */
  field(t: FbTable, id: number, size: number, name: string): number {
    const voff = 4 + 2 * id;
    if (voff + 2 > t.vtLen) return 0;
    const o = this.u16(t.vt + voff, `vtable entry ${t.what}.${name}`);
    if (o === 0) return 0;
    if (o + size > t.tableLen) this.fail(`field ${t.what}.${name} lies outside its table`, t.pos + o);
    return t.pos + o;
  }

  scalarU8(t: FbTable, id: number, name: string, dflt = 0): number {
    const p = this.field(t, id, 1, name);
    return p ? this.u8(p, `${t.what}.${name}`) : dflt;
  }
  scalarI8(t: FbTable, id: number, name: string, dflt = 0): number {
    const p = this.field(t, id, 1, name);
    return p ? this.bb.readInt8(p) : dflt;
  }
  scalarI32(t: FbTable, id: number, name: string, dflt = 0): number {
    const p = this.field(t, id, 4, name);
    return p ? this.i32(p, `${t.what}.${name}`) : dflt;
  }
  scalarU32(t: FbTable, id: number, name: string, dflt = 0): number {
    const p = this.field(t, id, 4, name);
    return p ? this.u32(p, `${t.what}.${name}`) : dflt;
  }
  scalarF32(t: FbTable, id: number, name: string, dflt = 0): number {
    const p = this.field(t, id, 4, name);
    return p ? this.f32(p, `${t.what}.${name}`) : dflt;
  }
  scalarU64(t: FbTable, id: number, name: string): bigint {
    const p = this.field(t, id, 8, name);
    return p ? BigInt.asUintN(64, this.i64(p, `${t.what}.${name}`)) : 0n;
  }

  subtable(t: FbTable, id: number, name: string): FbTable | null {
    const p = this.field(t, id, 4, name);
    return p ? this.tableAt(p, `${t.what}.${name}`) : null;
  }

  /** A vector field: start of its elements and their count, with the whole extent checked. */
  vector(t: FbTable, id: number, elemSize: number, name: string): { start: number; n: number } | null {
    const p = this.field(t, id, 4, name);
    if (!p) return null;
    const vec = p + this.u32(p, `offset of ${t.what}.${name}`);
    const n = this.u32(vec, `length of ${t.what}.${name}`);
    if (vec + 4 + n * elemSize > this.len) this.fail(`vector ${t.what}.${name} of ${n} elements runs past the end`, vec);
    return { start: vec + 4, n };
  }

  i32Vector(t: FbTable, id: number, name: string): number[] {
    const v = this.vector(t, id, 4, name);
    if (!v) return [];
    const out = new Array<number>(v.n);
    for (let i = 0; i < v.n; i++) out[i] = this.bb.readInt32(v.start + 4 * i);
    return out;
  }
  f32Vector(t: FbTable, id: number, name: string): number[] {
    const v = this.vector(t, id, 4, name);
    if (!v) return [];
    const out = new Array<number>(v.n);
    for (let i = 0; i < v.n; i++) out[i] = this.bb.readFloat32(v.start + 4 * i);
    return out;
  }
  i64Vector(t: FbTable, id: number, name: string): number[] {
    const v = this.vector(t, id, 8, name);
    if (!v) return [];
    const out = new Array<number>(v.n);
    for (let i = 0; i < v.n; i++) out[i] = Number(this.bb.readInt64(v.start + 8 * i));
    return out;
  }
  bytesVector(t: FbTable, id: number, name: string): Uint8Array | null {
    const v = this.vector(t, id, 1, name);
    return v ? this.bytes.subarray(v.start, v.start + v.n) : null;
  }
  tableVector(t: FbTable, id: number, name: string): FbTable[] {
    const v = this.vector(t, id, 4, name);
    if (!v) return [];
    const out: FbTable[] = [];
    for (let i = 0; i < v.n; i++) out.push(this.tableAt(v.start + 4 * i, `${t.what}.${name}[${i}]`));
    return out;
  }
  string(t: FbTable, id: number, name: string): string | undefined {
    const b = this.bytesVector(t, id, name);
    return b ? new TextDecoder('utf-8', { fatal: false }).decode(b) : undefined;
  }
}
