/**
 * Seeded mutations for the importer and config-loader fuzzers. Everything is driven by one PRNG so a run is
 * the same on every machine: a failing iteration is reproduced from (seed, iteration) alone.
 */

/** mulberry32: small, fast, and good enough to spread mutations */
export function rng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;

const int = (r: Rng, n: number) => Math.floor(r() * n);

/** Byte ranges [start, end) where most edits should land (file structure rather than weight payloads). */
export type Ranges = ReadonlyArray<readonly [number, number]>;

const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];

function pick(r: Rng, length: number, focus: Ranges | undefined): number {
  if (focus && focus.length > 0 && r() < 0.8) {
    const [a, b] = focus[int(r, focus.length)]!;
    return a + int(r, Math.max(1, b - a));
  }
  return int(r, length);
}

/**
 * A mutant of a binary file: 1-4 point edits (random or boundary bytes), sometimes a truncation, a duplicated
 * or dropped chunk, or a 32-bit little-endian field set to an extreme value (sizes, offsets, counts).
 */
export function mutateBytes(original: Uint8Array, r: Rng, focus?: Ranges): { bytes: Uint8Array; what: string } {
  const kind = r();
  if (kind < 0.08) {
    const at = int(r, original.length);
    return { bytes: original.slice(0, at), what: `truncated to ${at} bytes` };
  }
  if (kind < 0.14) {
    const at = pick(r, original.length, focus);
    const len = 1 + int(r, 64);
    const out = new Uint8Array(original.length + len);
    out.set(original.subarray(0, at));
    out.set(original.subarray(at, at + len), at);
    out.set(original.subarray(at), at + Math.min(len, original.length - at));
    return { bytes: out.subarray(0, original.length + Math.min(len, original.length - at)), what: `chunk of ${len} at ${at} duplicated` };
  }
  if (kind < 0.2) {
    const at = pick(r, original.length, focus);
    const len = 1 + int(r, 64);
    const out = new Uint8Array(original.length - Math.min(len, original.length - at));
    out.set(original.subarray(0, at));
    out.set(original.subarray(at + len), at);
    return { bytes: out, what: `${len} bytes at ${at} dropped` };
  }
  const b = new Uint8Array(original);
  if (kind < 0.35) {
    const at = Math.min(b.length - 4, pick(r, b.length, focus));
    const v = [0xffffffff, 0x7fffffff, 0x80000000, 0, 1, 0xfffffffe][int(r, 6)]!;
    new DataView(b.buffer, b.byteOffset).setUint32(Math.max(0, at), v, true);
    return { bytes: b, what: `u32 at ${at} = 0x${v.toString(16)}` };
  }
  const edits = 1 + int(r, 4);
  const where: number[] = [];
  for (let e = 0; e < edits; e++) {
    const p = pick(r, b.length, focus);
    b[p] = r() < 0.4 ? INTERESTING[int(r, INTERESTING.length)]! : int(r, 256);
    where.push(p);
  }
  return { bytes: b, what: `bytes at ${where.join(',')} changed` };
}

/**
 * Same-length edits inside [start, end) only: for text embedded in a container (the Keras model_config JSON in an
 * HDF5 attribute) the container stays valid and the text reaches the parser behind it.
 */
export function mutateInside(original: Uint8Array, r: Rng, start: number, end: number): { bytes: Uint8Array; what: string } {
  const b = new Uint8Array(original);
  const alphabet = Buffer.from('{}[]":,-.0123456789eE+ nulltruefalse\\"\u00ff');
  const edits = 1 + int(r, 6);
  const where: number[] = [];
  for (let e = 0; e < edits; e++) {
    const p = start + int(r, end - start);
    b[p] = r() < 0.7 ? alphabet[int(r, alphabet.length)]! : int(r, 256);
    where.push(p);
  }
  return { bytes: b, what: `model_config bytes at ${where.join(',')} changed` };
}

const TEXT_TOKENS = [
  ':', ': ', '-', '- ', '\n', '\n  ', '  ', '{', '}', '[', ']', ',', '"', "'", '#', '&a', '*a', '!!binary', '!!js/function', '? ',
  '|', '>', '~', 'null', 'true', '1e400', '-1', '0x10', '.inf', 'NaN', '\u0000', '\u001b[31m', '/', '+', '%', '\t', '<<: *a',
  '../../etc/passwd', 'a'.repeat(300), '\ud800', '\u202e',
];

/** A mutant of a text file (YAML or JSON): token insertions, deletions and replacements. */
export function mutateText(original: string, r: Rng): { text: string; what: string } {
  let s = original;
  const edits = 1 + int(r, 4);
  const done: string[] = [];
  for (let e = 0; e < edits; e++) {
    const at = int(r, s.length + 1);
    const k = r();
    if (k < 0.45) {
      const t = TEXT_TOKENS[int(r, TEXT_TOKENS.length)]!;
      s = s.slice(0, at) + t + s.slice(at);
      done.push(`insert ${JSON.stringify(t.slice(0, 12))}@${at}`);
    } else if (k < 0.7) {
      const len = 1 + int(r, 12);
      s = s.slice(0, at) + s.slice(at + len);
      done.push(`delete ${len}@${at}`);
    } else if (k < 0.9) {
      const t = TEXT_TOKENS[int(r, TEXT_TOKENS.length)]!;
      s = s.slice(0, at) + t + s.slice(at + 1 + int(r, 6));
      done.push(`replace@${at} with ${JSON.stringify(t.slice(0, 12))}`);
    } else {
      const lines = s.split('\n');
      const i = int(r, lines.length);
      lines.splice(int(r, lines.length), 0, lines[i]!);
      s = lines.join('\n');
      done.push(`line ${i} duplicated`);
    }
  }
  return { text: s, what: done.join('; ') };
}

/** Hostile YAML documents that are not small edits of a valid one: alias bombs, deep nesting, huge scalars. */
export function hostileYaml(r: Rng): { text: string; what: string } {
  switch (int(r, 5)) {
    case 0: {
      // billion laughs: each level references the previous one ten times
      let t = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n';
      for (let i = 1; i < 9; i++) t += `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]\n`;
      return { text: t + 'deviceId: *i\n', what: 'alias bomb' };
    }
    case 1: return { text: 'mqtt: '.padEnd(6 + 20_000, '[') + '\n', what: 'deep nesting' };
    case 2: return { text: `deviceId: "${'x'.repeat(1 << 20)}"\n`, what: '1 MiB scalar' };
    case 3: return { text: 'mqtt:\n  prefix: "edgefit/#"\n  url: "mqtt://u:p@host\u0000"\n', what: 'wildcard prefix and NUL' };
    default: return { text: '__proto__:\n  polluted: true\nconstructor:\n  prototype:\n    polluted: true\n', what: 'prototype keys' };
  }
}
