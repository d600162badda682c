import { readFile } from 'node:fs/promises';
import type { Cost } from './cost.js';

const memo = new Map<string, Cost>();

/**
 * MACs and parameters of a catalog detector at one rung, counted on its own TFLite graph (the source file the
 * catalog pulled and verified): exact for every resolution, where the zoo only knows the SSDLite head.
 */
export async function detectorCost(tflitePath: string, sha256: string, resolution: number): Promise<Cost> {
  const key = `${sha256}|${resolution}`;
  const hit = memo.get(key);
  if (hit) return hit;
  // the TFLite reader only when a detector is in the ladder
  const { parseTflite } = await import('../importers/tflite/schema.js');
  const { tfliteCost } = await import('../importers/tflite/cost.js');
  const c = tfliteCost(parseTflite(await readFile(tflitePath), tflitePath), resolution);
  const cost: Cost = { macs: c.macs, params: c.params, from: 'tflite' };
  memo.set(key, cost);
  return cost;
}
