import { mulberry32 } from '../../src/zoo/init.js';

/**
 * Deterministic hostile payloads for the dashboard's boundary: real payloads (the recording) with numbers set
 * to extremes, nodes replaced by odd JSON (deep nesting, huge arrays, long strings, NaN-like strings), and raw
 * text edits JSON.parse turns into what no JSON.stringify writes (1e400 parses to Infinity).
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export const EXTREME_NUMBERS = [
  1.7e308, -1.7e308, Number.MAX_VALUE, -Number.MAX_VALUE, 1e308, -1e308, 5e-324, -5e-324, 1e-323, 0, -0, -1, -1e-9, 0.5, 1, 1.0001,
  2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e13, 1e13 + 1, 1e16, 1e6, 1e6 + 0.5, 65535, 2 ** 31, 2 ** 32, 1e300, 123456.789,
];
export const ODD_TEXT = ['NaN', 'Infinity', '-Infinity', '1e400', '-0', '', ' ', '\u0000', '\u202e', '<svg onload=x>', 'null', 'true', '0x10', '١٢٣'];
/** number literals JSON.parse accepts that no serializer writes: overflow to ±Infinity, underflow to 0 */
const RAW_NUMBERS = ['1e400', '-1e400', '1e-400', '-0', '0e99999', '123456789012345678901234567890', '1.7976931348623159e308', '4.9e-325'];

export type Rng = () => number;
export const rng = (seed: number): Rng => mulberry32(seed);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** Paths of every leaf (or, with `nodes`, every node) of a JSON value, down to a depth of 12. */
function paths(v: Json, nodes: boolean, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (at.length > 12) return out;
  if (Array.isArray(v)) {
    if (nodes && at.length) out.push(at);
    v.forEach((x, i) => paths(x, nodes, [...at, i], out));
  } else if (v !== null && typeof v === 'object') {
    if (nodes && at.length) out.push(at);
    for (const [k, x] of Object.entries(v)) paths(x, nodes, [...at, k], out);
  } else if (at.length && (nodes || typeof v === 'number')) out.push(at);
  return out;
}

function setAt(root: Json, path: (string | number)[], value: Json): void {
  let o = root as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, Json>;
  o[path[path.length - 1]!] = value;
}

/**
 * A random odd JSON value: deep nesting, a huge array, a long string, many keys, or a scalar. Nesting stops at
 * 1000 levels because JSON.stringify recurses; deeper nesting comes as raw text (oddBytes).
 */
export function oddValue(r: Rng): Json {
  switch (Math.floor(r() * 8)) {
    case 0: { let v: Json = 1; for (let i = 0, n = 1 + Math.floor(r() * 1000); i < n; i++) v = [v]; return v; }
    case 1: { let v: Json = 1; for (let i = 0, n = 1 + Math.floor(r() * 1000); i < n; i++) v = { a: v }; return v; }
    case 2: return Array.from({ length: Math.floor(r() * 20_000) }, () => pick(r, EXTREME_NUMBERS));
    case 3: return 'x'.repeat(Math.floor(r() * 300_000));
    case 4: return Object.fromEntries(Array.from({ length: Math.floor(r() * 3000) }, (_, i) => [`k${i}`, i]));
    case 5: return pick(r, ODD_TEXT);
    case 6: return pick(r, [null, true, false, [], {}]);
    default: return pick(r, EXTREME_NUMBERS);
  }
}

export interface Mutated { text: string; what: string }

/** One hostile variant of `base`: 1-3 mutations, described for the failure message. */
export function mutate(r: Rng, base: Json, numbersOnly = false): Mutated {
  const v = structuredClone(base);
  const what: string[] = [];
  const raw: string[] = [];
  for (let k = 0, n = 1 + Math.floor(r() * 3); k < n; k++) {
    const kind = numbersOnly ? 0 : Math.floor(r() * 5);
    if (kind <= 1) {
      const ps = paths(v, false);
      if (!ps.length) continue;
      const p = pick(r, ps);
      const x = pick(r, EXTREME_NUMBERS);
      setAt(v, p, x);
      what.push(`${p.join('.')}=${x}`);
    } else if (kind === 2) {
      const ps = paths(v, true);
      if (!ps.length) continue;
      const p = pick(r, ps);
      const x = oddValue(r);
      setAt(v, p, x);
      what.push(`${p.join('.')}=<${describe(x)}>`);
    } else if (kind === 3) {
      raw.push(pick(r, RAW_NUMBERS));
    } else {
      // many copies of an array's items (a ladder of thousands of candidates)
      const arrays = paths(v, true).filter((p) => Array.isArray(get(v, p)));
      if (!arrays.length) continue;
      const p = pick(r, arrays);
      const a = get(v, p) as Json[];
      // up to ~2 MB of text: past every size limit, without the generator itself running out of memory
      const times = Math.min(Math.floor(r() * 2000), Math.floor(2e6 / Math.max(1, JSON.stringify(a).length)));
      setAt(v, p, Array.from({ length: a.length * times }, (_, i) => a[i % a.length]!));
      what.push(`${p.join('.')} x${times}`);
    }
  }
  let text = JSON.stringify(v);
  for (const lit of raw) {
    // a number literal in the text replaced by one that JSON.parse overflows or underflows
    const nums = [...text.matchAll(/(?<=:)-?\d+(\.\d+)?([eE][-+]?\d+)?/g)];
    if (!nums.length) continue;
    const m = pick(r, nums);
    text = text.slice(0, m.index) + lit + text.slice(m.index! + m[0].length);
    what.push(`text ${m[0]}->${lit}`);
  }
  return { text, what: what.join(', ') || 'unchanged' };
}

function get(v: Json, p: (string | number)[]): Json {
  let o: Json = v;
  for (const k of p) o = (o as Record<string | number, Json>)[k]!;
  return o;
}

function describe(x: Json): string {
  const s = JSON.stringify(x);
  return s.length > 40 ? `${s.slice(0, 20)}…(${s.length} chars)` : s;
}

/** Raw payloads that are not a mutation of anything. */
export function oddBytes(r: Rng): { bytes: Buffer; what: string } {
  switch (Math.floor(r() * 6)) {
    case 0: return { bytes: Buffer.alloc(0), what: 'empty' };
    case 1: { const n = Math.floor(r() * 100_000); return { bytes: Buffer.from('['.repeat(n) + ']'.repeat(n)), what: `${n} nested arrays` }; }
    case 2: return { bytes: Buffer.from(Array.from({ length: Math.floor(r() * 4000) }, () => Math.floor(r() * 256))), what: 'random bytes' };
    case 3: return { bytes: Buffer.from(JSON.stringify(oddValue(r))), what: 'odd value' };
    case 4: return { bytes: Buffer.from(pick(r, RAW_NUMBERS)), what: 'a bare number' };
    default: return { bytes: Buffer.from('\ufeff{"deviceId":"dev"}'), what: 'BOM' };
  }
}

/** Every number in a parsed value (for invariants on what ingest accepted). */
export function numbersIn(v: unknown, out: number[] = []): number[] {
  if (typeof v === 'number') out.push(v);
  else if (Array.isArray(v)) for (const x of v) numbersIn(x, out);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) numbersIn(x, out);
  return out;
}
