/**
 * The joint choice for several cameras on one board: one option (variant at a thread count) per camera so that
 * every camera meets its p90 budget and fps, their demand fits the board's measured capacity, the distinct
 * sessions fit the memory, and, among the sets that do, the best by the rule of compareScores (joint-model.ts):
 * lexicographic by camera priority of the sum of accuracies, then MACs, then less load.
 *
 * Exact: a multiple-choice knapsack (pick one item per camera under shared capacity constraints) solved by
 * depth-first branch and bound, cameras in priority order, each camera's options best-first; a branch is cut
 * when the capacity, the memory, a shared worker's time or a camera's p90 with its waits overflows (each only grows
 * as cameras are added), when even the lightest options of the cameras left overflow the capacity, or when even
 * their most accurate options cannot beat the best set found. Pure: decides from the figures it is given, measures nothing.
 */
import {
  checkOption, compareScores, demandOf, feasible, predictedP90, priorityLevels, scoreOf, sessionKey, slotsOf, validateJoint, waitingP90, busyOf, capacityOf,
  type Assignment, type JointInput, type Score,
} from './joint-model.js';

export * from './joint-model.js';

const EPS = 1e-9;

export interface SearchStats {
  /** complete sets scored */
  leaves: number;
  /** branches cut by the bound or the capacity */
  pruned: number;
}

/**
 * The optimum, or null when no set is feasible. `fixed` pins cameras to one option (used to explain a loser: the
 * best set that contains it).
 */
export function optimum(inp: JointInput, fixed: Map<number, number> = new Map(), stats?: SearchStats): Assignment | null {
  validateJoint(inp);
  const cams = inp.cameras;
  const n = cams.length;
  const levels = priorityLevels(cams);
  // search order: priority high first, so the bound on the first level tightens early
  const order = cams.map((_, i) => i).sort((x, y) => cams[y]!.priority - cams[x]!.priority || x - y);
  const choices = order.map((ci) => {
    const c = cams[ci]!;
    const opts = inp.options[c.id]!;
    const idx = fixed.has(ci) ? [fixed.get(ci)!] : opts.map((_, k) => k);
    return idx
      .filter((k) => checkOption(c, opts[k]!, inp.board).ok)
      .sort((x, y) => (opts[y]!.accuracy ?? 0) - (opts[x]!.accuracy ?? 0) || opts[y]!.macs - opts[x]!.macs || opts[x]!.timeMs - opts[y]!.timeMs || x - y);
  });
  if (choices.some((ch) => ch.length === 0)) return null;
  // Interchangeable cameras (same fps, budget, priority and ladder, none pinned) are taken in input order (they
  // share a priority), and an optimum gives the earlier one the smaller option id (swapping two of them changes
  // nothing but the ids, where the smaller comes first): so each takes options with ids >= its twin's. Without
  // this, identical cameras spread over sessions that tie would be scored in every permutation.
  const sig = (ci: number) => (fixed.has(ci) ? `pinned${ci}` : JSON.stringify([cams[ci]!.fps, cams[ci]!.budgetMs, cams[ci]!.priority, inp.options[cams[ci]!.id]]));
  const twin = new Map<number, number>();
  const lastOf = new Map<string, number>();
  for (const ci of order) {
    const k = sig(ci);
    if (lastOf.has(k)) twin.set(ci, lastOf.get(k)!);
    lastOf.set(k, ci);
  }
  // suffix bounds: the lightest demand and the best accuracy / MACs the cameras from position p on can add
  const minDemand = new Array<number>(n + 1).fill(0);
  const maxAcc = Array.from({ length: n + 1 }, () => levels.map(() => 0));
  const maxMacs = new Array<number>(n + 1).fill(0);
  // the least demand of the cameras left if each keeps its most accurate options: a completion that ties the best
  // set on accuracy must (any loss would rank it lower), so this bounds its demand
  const tieDemand = new Array<number>(n + 1).fill(0);
  for (let p = n - 1; p >= 0; p--) {
    const c = cams[order[p]!]!, opts = inp.options[c.id]!;
    const top = Math.max(...choices[p]!.map((k) => opts[k]!.accuracy ?? 0));
    tieDemand[p] = tieDemand[p + 1]! + Math.min(...choices[p]!.filter((k) => (opts[k]!.accuracy ?? 0) >= top - EPS).map((k) => demandOf(c, opts[k]!)));
    minDemand[p] = minDemand[p + 1]! + Math.min(...choices[p]!.map((k) => demandOf(c, opts[k]!)));
    maxAcc[p] = [...maxAcc[p + 1]!];
    maxAcc[p]![levels.indexOf(c.priority)]! += Math.max(...choices[p]!.map((k) => opts[k]!.accuracy ?? 0));
    maxMacs[p] = maxMacs[p + 1]! + Math.max(...choices[p]!.map((k) => opts[k]!.macs));
  }
  const capacity = capacityOf(inp.board);
  const memLimit = inp.board.memoryMb ?? Infinity;
  const a: Assignment = new Array<number>(n).fill(0);
  const acc = levels.map(() => 0);
  const busy = new Map<string, number>();
  const sessionSum = new Map<string, number>();
  let total = 0, sessions = 0;
  const users = new Map<string, number>();
  let best: Assignment | null = null;
  let bestScore: Score | undefined;

  // cut when even the best completion cannot beat the best set: accuracy levels first, then MACs, then demand
  // (options that tie on accuracy and MACs, a rung at several thread counts, would otherwise multiply the leaves)
  const hopeless = (p: number, macs: number, demand: number): boolean => {
    if (!bestScore) return false;
    for (let l = 0; l < levels.length; l++) {
      const ub = acc[l]! + maxAcc[p]![l]!, b = bestScore.levels[l]!;
      if (ub < b - EPS) return true;
      if (ub > b + EPS) return false;
    }
    const ubMacs = macs + maxMacs[p]!;
    if (ubMacs < bestScore.macs - EPS) return true;
    if (ubMacs > bestScore.macs + EPS) return false;
    return demand + tieDemand[p]! > bestScore.demand + EPS;
  };

  // every camera assigned so far (positions 0..p) still within its budget, waits included
  const onTime = (p: number, maxThreads: number): boolean => {
    const slots = slotsOf(inp.board, maxThreads);
    for (let q = 0; q <= p; q++) {
      const ci = order[q]!, c = cams[ci]!, o = inp.options[c.id]![a[ci]!]!;
      if (waitingP90(predictedP90(o, inp.board), sessionSum.get(sessionKey(o))!, total, sessions, slots).p90 > c.budgetMs + EPS) return false;
    }
    return true;
  };

  const dfs = (p: number, demand: number, memory: number, macs: number, maxThreads: number): void => {
    if (p === n) {
      if (stats) stats.leaves++;
      if (!feasible(inp, a)) return; // the incremental checks are exact, this guards the float edges
      const s = scoreOf(inp, a);
      if (!bestScore || compareScores(s, bestScore) < 0) { bestScore = s; best = [...a]; }
      return;
    }
    if (demand + minDemand[p]! > capacity + EPS || hopeless(p, macs, demand)) { if (stats) stats.pruned++; return; }
    const ci = order[p]!, c = cams[ci]!, opts = inp.options[c.id]!, l = levels.indexOf(c.priority);
    const tw = twin.get(ci);
    const floorId = tw === undefined ? undefined : opts[a[tw]!]!.id;
    for (const k of choices[p]!) {
      const o = opts[k]!, key = sessionKey(o);
      if (floorId !== undefined && o.id < floorId) continue;
      const d = demand + demandOf(c, o);
      const newSession = !users.get(key);
      const m = memory + (newSession ? o.memoryMb : 0);
      const bz = (busy.get(key) ?? 0) + busyOf(c, o, inp.board);
      if (d > capacity + EPS || m > memLimit + EPS || bz > 1 + EPS) { if (stats) stats.pruned++; continue; }
      const own = predictedP90(o, inp.board), threads = Math.max(maxThreads, o.threads);
      a[ci] = k;
      busy.set(key, bz);
      sessionSum.set(key, (sessionSum.get(key) ?? 0) + own);
      total += own;
      if (newSession) sessions++;
      users.set(key, (users.get(key) ?? 0) + 1);
      if (onTime(p, threads)) {
        acc[l]! += o.accuracy ?? 0;
        dfs(p + 1, d, m, macs + o.macs, threads);
        acc[l]! -= o.accuracy ?? 0;
      } else if (stats) stats.pruned++;
      users.set(key, users.get(key)! - 1);
      if (newSession) sessions--;
      total -= own;
      sessionSum.set(key, sessionSum.get(key)! - own);
      busy.set(key, bz - busyOf(c, o, inp.board));
    }
  };
  dfs(0, 0, 0, 0, 1);
  return best;
}

/** Brute force over every combination: the reference the search must agree with (tests; tiny inputs only). */
export function bruteForceOptimum(inp: JointInput): Assignment | null {
  validateJoint(inp);
  const sizes = inp.cameras.map((c) => inp.options[c.id]!.length);
  const a: Assignment = sizes.map(() => 0);
  let best: Assignment | null = null;
  let bestScore: Score | undefined;
  for (;;) {
    if (feasible(inp, a)) {
      const s = scoreOf(inp, a);
      if (!bestScore || compareScores(s, bestScore) < 0) { bestScore = s; best = [...a]; }
    }
    let i = 0;
    while (i < a.length && ++a[i]! === sizes[i]!) a[i++] = 0;
    if (i === a.length) return best;
  }
}

/**
 * The smallest set, run when nothing fits: per camera its lightest option (least demand, then least memory, then
 * the lower p90).
 */
export function smallestSet(inp: JointInput): Assignment {
  validateJoint(inp);
  return inp.cameras.map((c) => {
    const opts = inp.options[c.id]!;
    const cost = (k: number) => [demandOf(c, opts[k]!), opts[k]!.memoryMb, opts[k]!.p90Ms];
    let best = 0;
    for (let k = 1; k < opts.length; k++) {
      const x = cost(k), y = cost(best);
      const d = x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
      if (d < 0) best = k;
    }
    return best;
  });
}

export interface StepDown {
  /** index of the camera stepped down */
  camera: number;
  from: number;
  to: number;
  assignment: Assignment;
  /** in words */
  reason: string;
}

/**
 * The cheapest loss when a set measured short: each camera's step is to its best-ranked option with less demand
 * than its current one (and, when the current set fits on paper, such that the new set still does); the camera
 * that steps is the one of lowest priority, then the one losing the least accuracy per core freed, then the one
 * freeing the most. Undefined when no camera can step down.
 */
export function stepDown(inp: JointInput, a: Assignment): StepDown | undefined {
  validateJoint(inp);
  const wasFeasible = feasible(inp, a);
  let best: { ci: number; k: number; loss: number; freed: number } | undefined;
  inp.cameras.forEach((c, ci) => {
    const opts = inp.options[c.id]!, cur = opts[a[ci]!]!;
    let pick: number | undefined;
    for (let k = 0; k < opts.length; k++) {
      const o = opts[k]!;
      if (demandOf(c, o) >= demandOf(c, cur) || !checkOption(c, o, inp.board).ok) continue;
      if (wasFeasible) {
        const trial = [...a];
        trial[ci] = k;
        if (!feasible(inp, trial)) continue;
      }
      const p = pick === undefined ? undefined : opts[pick]!;
      if (!p || (o.accuracy ?? 0) - (p.accuracy ?? 0) > 0 || ((o.accuracy ?? 0) === (p.accuracy ?? 0) && (o.macs - p.macs || demandOf(c, p) - demandOf(c, o)) > 0)) pick = k;
    }
    if (pick === undefined) return;
    const loss = (cur.accuracy ?? 0) - (opts[pick]!.accuracy ?? 0);
    const freed = demandOf(c, cur) - demandOf(c, opts[pick]!);
    const b = best ? inp.cameras[best.ci]! : undefined;
    // accuracy lost per core freed: a step that frees almost nothing is a poor buy even when it costs little
    const price = loss / freed, bestPrice = best ? best.loss / best.freed : Infinity;
    if (!best || c.priority < b!.priority || (c.priority === b!.priority && (price < bestPrice || (price === bestPrice && freed > best.freed)))) best = { ci, k: pick, loss, freed };
  });
  if (!best) return undefined;
  const c = inp.cameras[best.ci]!, opts = inp.options[c.id]!;
  const next = [...a];
  next[best.ci] = best.k;
  return {
    camera: best.ci, from: a[best.ci]!, to: best.k, assignment: next,
    reason: `${c.id} steps down ${opts[a[best.ci]!]!.id} -> ${opts[best.k]!.id} (priority ${c.priority}, loses ${(best.loss * 100).toFixed(1)} accuracy points, frees ${best.freed.toFixed(2)} cores)`,
  };
}
