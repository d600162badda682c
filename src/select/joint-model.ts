/**
 * The cost model of several cameras on one board, shared by the joint search (joint.ts), its explanations
 * (joint-explain.ts) and the concurrent verification (verify-joint.ts). Pure: numbers in, numbers out.
 *
 * - A camera's demand is its fps x the option's mean time per frame x the option's intra-op threads: the cores it
 *   keeps busy (with one thread, fps x time, core-seconds per second).
 * - The board's capacity is cores x slowdown, where slowdown (0, 1] is the measured throughput of streams running
 *   together relative to each alone; run times are inflated by 1 / slowdown for the per-camera checks.
 * - A model at one resolution and thread count is one session: cameras that choose it share it (its memory counted once) and its
 *   worker runs one frame at a time, so the session's busy fraction (sum of its cameras' fps x time) must stay <= 1,
 *   and a frame may wait for the runs of the other cameras on it.
 * - At most one run per core (`slotsOf`): when the set has more sessions than slots, a frame may also wait for a
 *   slot. A camera's predicted p90 (`SetLoad.p90`) is the worst case of cameras whose frames arrive together
 *   (identical cameras at one fps, in phase, collide at every frame): its own p90, plus one run of every other
 *   camera on its session, plus, when sessions outnumber slots, one run of every camera on another session shared
 *   among the slots; all under the slowdown. It must stay within the camera's budget. Adding a camera never
 *   lowers anyone's figure, which keeps the search's cuts exact.
 */
import { EdgefitError } from '../util/errors.js';

export interface JointCamera {
  /** unique; a valid topic level */
  id: string;
  /** frames per second the camera delivers and must be served at */
  fps: number;
  /** p90 latency budget (ms) */
  budgetMs: number;
  /** higher is more important: the objective is lexicographic by priority (see compareScores) */
  priority: number;
}

/** One way to run a camera: a variant at a thread count, with what was measured for it alone. */
export interface JointOption {
  /** unique within the camera, e.g. `${candidateId}/t1` */
  id: string;
  /** the model file's sha256: options of the same model, resolution and thread count share one session */
  model: string;
  threads: number;
  /** mean time per frame alone (ms): the load */
  timeMs: number;
  /** p90 time per frame alone (ms): the latency budget */
  p90Ms: number;
  /** measured peak memory of the session (MB) */
  memoryMb: number;
  /** top-1 (0..1), published or estimated; undefined = unknown (counts 0, ranks by MACs) */
  accuracy?: number;
  macs: number;
  /** the model file and its input resolution: needed only to run the set (verify-joint.ts) */
  modelPath?: string;
  resolution?: number;
}

export interface JointBoard {
  cores: number;
  /** measured throughput of concurrent streams relative to alone, (0, 1] */
  slowdown: number;
  /** memory the models may take together (MB); undefined = no limit */
  memoryMb?: number;
}

export interface JointInput {
  cameras: JointCamera[];
  /** per camera id, its ladder of options */
  options: Record<string, JointOption[]>;
  board: JointBoard;
}

/** An assignment: per camera (in input order), the index of its option. */
export type Assignment = number[];

/** One session per model file, input resolution (a model with symbolic dimensions runs at several) and thread count. */
export const sessionKey = (o: JointOption): string => `${o.model}|${o.resolution ? `r${o.resolution}|` : ''}t${o.threads}`;
/** cores the camera keeps busy with this option */
export const demandOf = (c: JointCamera, o: JointOption): number => (c.fps * o.timeMs * o.threads) / 1000;
/** fraction of its session's worker the camera takes */
export const busyOf = (c: JointCamera, o: JointOption, b: JointBoard): number => (c.fps * o.timeMs) / b.slowdown / 1000;
export const capacityOf = (b: JointBoard): number => b.cores * b.slowdown;
export const predictedP90 = (o: JointOption, b: JointBoard): number => o.p90Ms / b.slowdown;

export type OptionCheck =
  | { ok: true }
  | { ok: false; reason: 'too-slow' | 'too-slow-for-fps' | 'too-big' | 'over-capacity'; detail: string; missBy: number };

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

/** Whether an option could serve its camera on this board were it alone; the order of the checks is the order of the reasons. */
export function checkOption(c: JointCamera, o: JointOption, b: JointBoard): OptionCheck {
  const p90 = predictedP90(o, b);
  if (p90 > c.budgetMs) return { ok: false, reason: 'too-slow', detail: `too slow by ${f1(p90 - c.budgetMs)} ms (p90 ${f1(p90)} > ${f1(c.budgetMs)}${b.slowdown < 1 ? `, alone ${f1(o.p90Ms)} / slowdown ${f2(b.slowdown)}` : ''})`, missBy: p90 - c.budgetMs };
  const busy = busyOf(c, o, b);
  if (busy > 1) {
    const can = c.fps / busy;
    return { ok: false, reason: 'too-slow-for-fps', detail: `one worker serves ${f1(can)} fps of ${f1(c.fps)} (mean ${f1(o.timeMs / b.slowdown)} ms a frame)`, missBy: c.fps - can };
  }
  if (b.memoryMb !== undefined && o.memoryMb > b.memoryMb) return { ok: false, reason: 'too-big', detail: `too big by ${f1(o.memoryMb - b.memoryMb)} MB (peak ${f1(o.memoryMb)} > ${f1(b.memoryMb)} MB)`, missBy: o.memoryMb - b.memoryMb };
  const d = demandOf(c, o), cap = capacityOf(b);
  if (d > cap) return { ok: false, reason: 'over-capacity', detail: `alone it needs ${f2(d)} cores of ${f2(cap)} (${b.cores} x slowdown ${f2(b.slowdown)})`, missBy: d - cap };
  return { ok: true };
}

/** What a whole assignment costs. */
export interface SetLoad {
  /** cores kept busy */
  demand: number;
  capacity: number;
  /** distinct sessions' memory (MB) */
  memoryMb: number;
  /** the busiest session's worker fraction */
  maxBusy: number;
  /** per session key, its worker fraction */
  busy: Map<string, number>;
  /** runs at once: one per core, fewer when a session runs on several threads */
  slots: number;
  /** per camera (input order), its predicted p90 with the waits for the other cameras' runs (ms) */
  p90: number[];
  /** per camera, the part of p90 spent waiting for other cameras on its session / for a slot (ms) */
  waitSession: number[];
  waitSlot: number[];
}

/** One run per core; a session on k threads takes k of them. */
export function slotsOf(b: JointBoard, maxThreads: number): number {
  return Math.max(1, Math.floor(b.cores / Math.max(1, maxThreads)));
}

/**
 * The worst-case p90 of a camera whose frame arrives with every other camera's (see the header): own + the others
 * on its session + (when sessions > slots) the cameras on other sessions / slots.
 */
export function waitingP90(own: number, sessionSum: number, total: number, sessions: number, slots: number): { p90: number; session: number; slot: number } {
  const session = sessionSum - own;
  const slot = sessions > slots ? (total - sessionSum) / slots : 0;
  return { p90: own + session + slot, session, slot };
}

export function setLoad(inp: JointInput, a: Assignment): SetLoad {
  let demand = 0, memoryMb = 0, maxBusy = 0;
  const busy = new Map<string, number>(), sessionP90 = new Map<string, number>();
  let total = 0, maxThreads = 1;
  inp.cameras.forEach((c, i) => {
    const o = inp.options[c.id]![a[i]!]!;
    demand += demandOf(c, o);
    const k = sessionKey(o);
    if (!busy.has(k)) memoryMb += o.memoryMb;
    const v = (busy.get(k) ?? 0) + busyOf(c, o, inp.board);
    busy.set(k, v);
    maxBusy = Math.max(maxBusy, v);
    const own = predictedP90(o, inp.board);
    sessionP90.set(k, (sessionP90.get(k) ?? 0) + own);
    total += own;
    maxThreads = Math.max(maxThreads, o.threads);
  });
  const slots = slotsOf(inp.board, maxThreads);
  const waits = inp.cameras.map((c, i) => {
    const o = inp.options[c.id]![a[i]!]!;
    return waitingP90(predictedP90(o, inp.board), sessionP90.get(sessionKey(o))!, total, sessionP90.size, slots);
  });
  return {
    demand, capacity: capacityOf(inp.board), memoryMb, maxBusy, busy, slots,
    p90: waits.map((w) => w.p90), waitSession: waits.map((w) => w.session), waitSlot: waits.map((w) => w.slot),
  };
}

/** Indexes of the cameras whose predicted p90, waits included, misses their budget. */
export function lateCameras(inp: JointInput, l: SetLoad): number[] {
  return inp.cameras.map((c, i) => (l.p90[i]! > c.budgetMs ? i : -1)).filter((i) => i >= 0);
}

/** The set fits: every option fits its camera, the board's capacity, the memory and every shared worker. */
export function feasible(inp: JointInput, a: Assignment): boolean {
  for (let i = 0; i < inp.cameras.length; i++) {
    const c = inp.cameras[i]!;
    if (!checkOption(c, inp.options[c.id]![a[i]!]!, inp.board).ok) return false;
  }
  const l = setLoad(inp, a);
  return l.demand <= l.capacity && l.maxBusy <= 1 && lateCameras(inp, l).length === 0 && (inp.board.memoryMb === undefined || l.memoryMb <= inp.board.memoryMb);
}

/**
 * How an assignment ranks. The rule: (1) per priority level, highest first, the sum of the accuracies of its
 * cameras (unknown accuracy counts 0), compared level by level; (2) the sum of MACs (more is better: among
 * unknown accuracies, the larger model, as the single-camera selector does); (3) less demand; (4) less memory;
 * (5) the option ids, so that the order is total and every solver finds the same set.
 */
export interface Score {
  levels: number[];
  macs: number;
  demand: number;
  memoryMb: number;
  ids: string;
}

/** Priority levels, highest first. */
export function priorityLevels(cams: JointCamera[]): number[] {
  return [...new Set(cams.map((c) => c.priority))].sort((x, y) => y - x);
}

export function scoreOf(inp: JointInput, a: Assignment): Score {
  const levels = priorityLevels(inp.cameras);
  const sums = levels.map(() => 0);
  let macs = 0;
  const ids: string[] = [];
  inp.cameras.forEach((c, i) => {
    const o = inp.options[c.id]![a[i]!]!;
    sums[levels.indexOf(c.priority)]! += o.accuracy ?? 0;
    macs += o.macs;
    ids.push(o.id);
  });
  const l = setLoad(inp, a);
  // sums rounded: the same figures added in another order differ in the last bits, and a set must not win by that
  return { levels: sums.map(fix), macs, demand: fix(l.demand), memoryMb: fix(l.memoryMb), ids: ids.join('\u0000') };
}

const fix = (x: number): number => Math.round(x * 1e9) / 1e9;

/** < 0 when x ranks above y. */
export function compareScores(x: Score, y: Score): number {
  for (let i = 0; i < x.levels.length; i++) if (x.levels[i] !== y.levels[i]) return y.levels[i]! - x.levels[i]!;
  return y.macs - x.macs || x.demand - y.demand || x.memoryMb - y.memoryMb || (x.ids < y.ids ? -1 : x.ids > y.ids ? 1 : 0);
}

const TOPIC_LEVEL = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_CAMERAS = 16;

/** Validates the input at the boundary: ids unique and topic-safe, numbers finite and positive, no empty ladder. */
export function validateJoint(inp: JointInput): void {
  const bad = (m: string): never => { throw new EdgefitError('E_JOINT_INPUT', m); };
  if (!inp || !Array.isArray(inp.cameras) || inp.cameras.length === 0) bad('the joint choice needs at least one camera');
  // the search is exact, so its worst case grows with the ladder to the power of the cameras
  if (inp.cameras.length > MAX_CAMERAS) bad(`the joint choice takes at most ${MAX_CAMERAS} cameras per board (got ${inp.cameras.length}); split them over boards`);
  const b = inp.board;
  if (!b || !Number.isInteger(b.cores) || b.cores < 1) bad(`board cores must be a whole number >= 1 (got ${b?.cores})`);
  if (!(b.slowdown > 0 && b.slowdown <= 1)) bad(`board slowdown must be in (0, 1] (got ${b.slowdown}); measure it with measureSlowdown()`);
  if (b.memoryMb !== undefined && !(b.memoryMb > 0)) bad(`board memoryMb must be > 0 (got ${b.memoryMb})`);
  const seen = new Set<string>();
  for (const c of inp.cameras) {
    if (typeof c.id !== 'string' || !TOPIC_LEVEL.test(c.id)) bad(`camera id ${JSON.stringify(c.id)} is not a valid topic level: use 1-64 letters, digits, '_' or '-'`);
    if (seen.has(c.id)) bad(`camera id ${c.id} appears twice: give every camera its own id`);
    seen.add(c.id);
    if (!(Number.isFinite(c.fps) && c.fps > 0)) bad(`camera ${c.id}: fps must be > 0 (got ${c.fps})`);
    if (!(Number.isFinite(c.budgetMs) && c.budgetMs > 0)) bad(`camera ${c.id}: budget must be a p90 latency > 0 ms (got ${c.budgetMs})`);
    if (!Number.isFinite(c.priority)) bad(`camera ${c.id}: priority must be a number (got ${c.priority})`);
    const opts = inp.options[c.id];
    if (!Array.isArray(opts) || opts.length === 0) bad(`camera ${c.id} has no measured option: profile its ladder first (\`edgefit profile\`)`);
    const ids = new Set<string>();
    for (const o of opts!) {
      if (ids.has(o.id)) bad(`camera ${c.id}: option ${o.id} appears twice`);
      ids.add(o.id);
      for (const k of ['timeMs', 'p90Ms', 'memoryMb', 'macs'] as const) if (!(Number.isFinite(o[k]) && o[k] >= 0)) bad(`camera ${c.id}, option ${o.id}: ${k} must be a number >= 0 (got ${o[k]})`);
      if (!(o.timeMs > 0 && o.p90Ms > 0)) bad(`camera ${c.id}, option ${o.id}: a time per frame must be > 0 ms`);
      if (!Number.isInteger(o.threads) || o.threads < 1) bad(`camera ${c.id}, option ${o.id}: threads must be a whole number >= 1`);
      if (o.accuracy !== undefined && !(o.accuracy >= 0 && o.accuracy <= 1)) bad(`camera ${c.id}, option ${o.id}: accuracy is a fraction in [0, 1] (got ${o.accuracy})`);
      if (typeof o.model !== 'string' || !o.model) bad(`camera ${c.id}, option ${o.id}: model (its sha256) is required, it decides which cameras share a session`);
    }
  }
}
