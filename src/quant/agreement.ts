import { cosine, runFrames } from './fidelity.js';

/** Top-1 agreement of an int8 model with its float model on frames, with no labels needed. */
export interface Agreement {
  frames: number;
  agree: number;
  /** frames where float's top-1 leads its top-2 by >= margin, and how many of those int8 keeps */
  marginThreshold: number;
  clear: number;
  clearAgree: number;
  cosineMean: number;
  cosineMin: number;
  /** names of the clear-margin frames whose top-1 int8 changed */
  flipped: string[];
}

export interface FloatRef { out: Float32Array[]; top: Int32Array; margin: Float64Array }

/** The float model's outputs once, to compare several int8 candidates against. */
export async function floatReference(floatOnnx: Uint8Array, frames: Uint8Array[], resolution: number): Promise<FloatRef> {
  const out = (await runFrames(floatOnnx, frames, resolution)).map((r) => r.out);
  const top = new Int32Array(out.length);
  const margin = new Float64Array(out.length);
  out.forEach((o, i) => {
    const [a, b] = top2(o);
    top[i] = a;
    margin[i] = o[a]! - (b < 0 ? 0 : o[b]!);
  });
  return { out, top, margin };
}

export async function measureAgreement(ref: FloatRef, int8Onnx: Uint8Array, frames: Uint8Array[], resolution: number, names?: string[], marginThreshold = 0.05): Promise<Agreement> {
  const q = await runFrames(int8Onnx, frames, resolution);
  let agree = 0, clear = 0, clearAgree = 0, cs = 0, cmin = 1;
  const flipped: string[] = [];
  q.forEach((r, i) => {
    const same = top2(r.out)[0] === ref.top[i];
    agree += +same;
    if (ref.margin[i]! >= marginThreshold) {
      clear++;
      clearAgree += +same;
      if (!same) flipped.push(names?.[i] ?? String(i));
    }
    const c = cosine(r.out, ref.out[i]!);
    cs += c;
    if (c < cmin) cmin = c;
  });
  return { frames: frames.length, agree, marginThreshold, clear, clearAgree, cosineMean: cs / q.length, cosineMin: cmin, flipped };
}

function top2(a: Float32Array): [number, number] {
  let i1 = 0, i2 = -1;
  for (let i = 1; i < a.length; i++) {
    if (a[i]! > a[i1]!) { i2 = i1; i1 = i; } else if (i2 < 0 || a[i]! > a[i2]!) i2 = i;
  }
  return [i1, i2];
}
