/**
 * The joint choice with its reasons: per camera the option chosen and why, and for every option not chosen the
 * reason it lost (as the single-camera selector gives one): it cannot serve the camera even alone, or no set
 * with it fits the board, or the best set with it ranks lower (and which other cameras it would cost). When no
 * set fits, the smallest set and per camera by how much it misses.
 */
import {
  checkOption, demandOf, feasible, lateCameras, optimum, predictedP90, priorityLevels, scoreOf, setLoad, smallestSet, sessionKey,
  type Assignment, type JointCamera, type JointInput, type JointOption, type Score, type SearchStats, type SetLoad,
} from './joint.js';

export type JointRejectReason = 'too-slow' | 'too-slow-for-fps' | 'too-big' | 'over-capacity' | 'no-joint-fit' | 'costs-others' | 'dominated';

export interface JointRejection {
  id: string;
  reason: JointRejectReason;
  detail: string;
}

export interface CameraChoice {
  camera: string;
  option: JointOption;
  /** index in the camera's options */
  index: number;
  /** why this one, in a sentence */
  reason: string;
  /** every other option, in input order, with its reason */
  rejected: JointRejection[];
  /** when no set fits: how this camera misses (empty: it meets its own budget, the board's overflow is shared) */
  misses: string[];
  /** cores this camera keeps busy */
  demand: number;
  /** p90 predicted under the measured slowdown, waits for the other cameras' runs included (ms) */
  predictedP90Ms: number;
}

export interface JointDecision {
  /** false: nothing fits, the smallest set is returned */
  feasible: boolean;
  assignment: Assignment;
  cameras: CameraChoice[];
  load: Omit<SetLoad, 'busy'> & { memoryLimitMb?: number };
  /** the ranking rule, in words */
  rule: string;
  stats: SearchStats;
}

export const JOINT_RULE = 'per priority level (highest first) the sum of the cameras\' accuracies, then more MACs, then less load, then less memory';

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const acc = (o: JointOption) => (o.accuracy === undefined ? 'accuracy unknown' : `${(o.accuracy * 100).toFixed(1)}%`);

/** Why score y ranks below score x, on the first key that differs. */
function whyLower(x: Score, y: Score, levels: number[]): string {
  for (let l = 0; l < levels.length; l++) {
    if (x.levels[l] !== y.levels[l]) {
      const what = levels.length > 1 ? `accuracy sum of priority ${levels[l]} cameras` : 'accuracy sum';
      return `${what} ${f2(y.levels[l]!)} vs ${f2(x.levels[l]!)}`;
    }
  }
  if (x.macs !== y.macs) return `same accuracy, fewer MACs: ${(y.macs / 1e6).toFixed(1)}M vs ${(x.macs / 1e6).toFixed(1)}M`;
  if (x.demand !== y.demand) return `same accuracy, more load: ${f2(y.demand)} vs ${f2(x.demand)} cores`;
  if (x.memoryMb !== y.memoryMb) return `same accuracy and load, more memory: ${f1(y.memoryMb)} vs ${f1(x.memoryMb)} MB`;
  return 'a tie on every figure, broken by the option ids';
}

/** What breaks in a set that does not fit, in words (board-wide). */
function overflow(inp: JointInput, a: Assignment): string[] {
  const l = setLoad(inp, a);
  const out: string[] = [];
  if (l.demand > l.capacity) out.push(`the set needs ${f2(l.demand)} cores of ${f2(l.capacity)}`);
  if (inp.board.memoryMb !== undefined && l.memoryMb > inp.board.memoryMb) out.push(`the models need ${f1(l.memoryMb)} MB of ${f1(inp.board.memoryMb)}`);
  for (const [k, v] of l.busy) if (v > 1) out.push(`the session ${k.slice(0, 12)} is asked for ${(v * 100).toFixed(0)}% of its worker`);
  for (const i of lateCameras(inp, l)) out.push(`${inp.cameras[i]!.id}'s frames, waiting for the other cameras' runs, take ${f1(l.p90[i]!)} ms (p90) of ${f1(inp.cameras[i]!.budgetMs)}`);
  return out;
}

function explainLoser(inp: JointInput, chosen: Assignment, best: Score, ci: number, k: number): JointRejection {
  const c = inp.cameras[ci]!, opts = inp.options[c.id]!, o = opts[k]!, w = opts[chosen[ci]!]!;
  const alone = checkOption(c, o, inp.board);
  if (!alone.ok) return { id: o.id, reason: alone.reason, detail: alone.detail };
  const withIt = optimum(inp, new Map([[ci, k]]));
  if (!withIt) {
    const light = smallestSet(inp);
    light[ci] = k;
    const why = feasible(inp, light) ? ['no set with it fits'] : overflow(inp, light);
    return { id: o.id, reason: 'no-joint-fit', detail: `fits alone, not beside the others: even with their lightest options ${why.join('; ')}` };
  }
  const s = scoreOf(inp, withIt);
  const others = inp.cameras
    .map((cj, j) => (j !== ci && withIt[j] !== chosen[j] ? `${cj.id} ${inp.options[cj.id]![chosen[j]!]!.id} -> ${inp.options[cj.id]![withIt[j]!]!.id}` : ''))
    .filter(Boolean);
  const lower = whyLower(best, s, priorityLevels(inp.cameras));
  if (others.length > 0) return { id: o.id, reason: 'costs-others', detail: `fits only if ${others.join(', ')}; that set ranks lower (${lower})` };
  if (o.accuracy !== w.accuracy) return { id: o.id, reason: 'dominated', detail: `dominated by ${w.id} (more accurate: ${acc(w)} vs ${acc(o)}, also fits)` };
  return { id: o.id, reason: 'dominated', detail: `dominated by ${w.id} (${lower})` };
}

function misses(inp: JointInput, a: Assignment, ci: number, l: SetLoad): string[] {
  const c = inp.cameras[ci]!, o = inp.options[c.id]![a[ci]!]!;
  const out: string[] = [];
  const own = checkOption(c, o, inp.board);
  if (!own.ok) out.push(own.detail);
  const d = demandOf(c, o);
  if (l.demand > l.capacity) out.push(`its ${f2(d)} cores are ${((d / l.demand) * 100).toFixed(0)}% of a set that needs ${f2(l.demand)} of ${f2(l.capacity)} (over by ${f2(l.demand - l.capacity)})`);
  const b = l.busy.get(sessionKey(o))!;
  if (b > 1) out.push(`its worker is asked for ${(b * 100).toFixed(0)}% (shared by the cameras running ${o.id})`);
  const waited = l.waitSession[ci]! + l.waitSlot[ci]!;
  if (l.p90[ci]! > c.budgetMs && waited > 0) {
    const parts = [l.waitSession[ci]! > 0 ? `${f1(l.waitSession[ci]!)} ms for the other cameras on its worker` : '', l.waitSlot[ci]! > 0 ? `${f1(l.waitSlot[ci]!)} ms for one of ${l.slots} slot(s)` : ''].filter(Boolean);
    out.push(`waiting (${parts.join(', ')}), a frame takes ${f1(l.p90[ci]!)} ms (p90) of ${f1(c.budgetMs)}`);
  }
  if (inp.board.memoryMb !== undefined && l.memoryMb > inp.board.memoryMb) out.push(`the models need ${f1(l.memoryMb)} MB of ${f1(inp.board.memoryMb)} (over by ${f1(l.memoryMb - inp.board.memoryMb)}); this one ${f1(o.memoryMb)} MB`);
  return out;
}

/** A loser when no set fits: its own miss when it has one, else that the lightest option runs instead. */
function explainWhenNothingFits(inp: JointInput, c: JointCamera, x: JointOption, lightest: JointOption): JointRejection {
  const alone = checkOption(c, x, inp.board);
  if (!alone.ok) return { id: x.id, reason: alone.reason, detail: alone.detail };
  return { id: x.id, reason: 'no-joint-fit', detail: `no set fits; the lightest option ${lightest.id} runs instead (${f2(demandOf(c, lightest))} cores, this one ${f2(demandOf(c, x))})` };
}

/** The joint choice with a reason for every camera and every loser; the smallest set when nothing fits. */
export function chooseJoint(inp: JointInput): JointDecision {
  const stats: SearchStats = { leaves: 0, pruned: 0 };
  const best = optimum(inp, new Map(), stats);
  const a = best ?? smallestSet(inp);
  const l = setLoad(inp, a);
  const score = scoreOf(inp, a);
  const cameras = inp.cameras.map((c: JointCamera, ci): CameraChoice => {
    const opts = inp.options[c.id]!, o = opts[a[ci]!]!;
    const p90 = l.p90[ci]!;
    const waited = p90 > predictedP90(o, inp.board) ? ', waits included' : '';
    const base = `${acc(o)}, p90 ${f1(p90)} ms (${f1(o.p90Ms)} alone${waited}) of ${f1(c.budgetMs)} at ${o.threads} thread(s), ${f2(demandOf(c, o))} cores at ${c.fps} fps`;
    const rejected = best
      ? opts.map((_, k) => k).filter((k) => k !== a[ci]).map((k) => explainLoser(inp, a, score, ci, k))
      : opts.map((_, k) => k).filter((k) => k !== a[ci]).map((k) => explainWhenNothingFits(inp, c, opts[k]!, o));
    return {
      camera: c.id, option: o, index: a[ci]!, demand: demandOf(c, o), predictedP90Ms: p90, rejected,
      reason: best ? `best set that fits (${JOINT_RULE}): ${base}` : `NOTHING FITS: lightest option, ${base}`,
      misses: best ? [] : misses(inp, a, ci, l),
    };
  });
  const { busy: _b, ...load } = l;
  return {
    feasible: best !== null, assignment: a, cameras, rule: JOINT_RULE, stats,
    load: { ...load, ...(inp.board.memoryMb !== undefined ? { memoryLimitMb: inp.board.memoryMb } : {}) },
  };
}
