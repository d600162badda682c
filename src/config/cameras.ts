import type { CameraEntry, Config } from './types.js';

/** The id of the one camera of the single `camera` form. */
export const MAIN_CAMERA = 'main';

/**
 * Levels the device's own topics use under <prefix>/<deviceId>/: a camera with one of these ids would publish
 * into them (`cmd/result` would even arrive as a command), so they are refused.
 */
export const RESERVED_CAMERA_IDS: readonly string[] = ['status', 'model', 'result', 'telemetry', 'event', 'snapshot', 'cmd', 'reply'];

/** A camera with every setting resolved: `config` is the daemon's configuration as this camera alone sees it. */
export interface ResolvedCamera {
  id: string;
  priority: number;
  /** frames per second it must be served at (> 0) */
  fps: number;
  config: Config;
}

/** The daemon-wide settings with one camera's own on top: what one camera's selection and pipeline read. */
export function cameraView(config: Config, e: CameraEntry): Config {
  const fps = e.fps ?? config.camera.fps;
  return {
    ...config,
    camera: {
      ...config.camera, source: e.source, fps,
      ...(e.width !== undefined ? { width: e.width } : {}), ...(e.height !== undefined ? { height: e.height } : {}),
      ...(e.loop !== undefined ? { loop: e.loop } : {}), ...(e.watchdogSeconds !== undefined ? { watchdogSeconds: e.watchdogSeconds } : {}),
    },
    cameras: [],
    models: { ...config.models, ...(e.task ? { task: e.task } : {}) },
    budget: { ...config.budget, ...defined(e.budget ?? {}) },
    mqtt: { ...config.mqtt, results: { ...config.mqtt.results, ...defined(e.results ?? {}) } },
  };
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

/** The cameras of a configuration: `cameras`, or the single `camera` as one camera with id `main`. */
export function camerasOf(config: Config): ResolvedCamera[] {
  const entries: CameraEntry[] = config.cameras.length > 0 ? config.cameras : [{ id: MAIN_CAMERA, source: config.camera.source }];
  return entries.map((e) => {
    const view = cameraView(config, e);
    const fps = view.camera.fps > 0 ? view.camera.fps : view.budget.fps > 0 ? view.budget.fps : 10;
    return { id: e.id, priority: e.priority ?? 0, fps, config: view };
  });
}

/**
 * Rules across the cameras that JSON Schema states poorly: unique ids, ids that are not the device's own topics, a
 * budget. `budget` is the daemon-wide one: a camera's own fields override it one by one, so a camera's `fps: 0`
 * with the daemon's `latencyMs: 0` leaves that camera without a latency budget as surely as both in its entry.
 */
export function cameraProblems(cameras: readonly Partial<CameraEntry>[], from: string, budget: { latencyMs?: unknown; fps?: unknown } = {}): string[] {
  const out: string[] = [];
  const seen = new Map<string, number>();
  cameras.forEach((c, i) => {
    if (typeof c.id !== 'string') return;
    const prev = seen.get(c.id);
    if (prev !== undefined) out.push(`config: cameras[${i}].id "${c.id}" is also the id of cameras[${prev}]; camera ids must be unique (they name the camera's topics) — ${from}`);
    else seen.set(c.id, i);
    if (RESERVED_CAMERA_IDS.includes(c.id)) out.push(`config: cameras[${i}].id must not be one of ${RESERVED_CAMERA_IDS.join(', ')} (the device's own topics; got "${c.id}") — ${from}`);
    if (c.budget) {
      const latencyMs = c.budget.latencyMs ?? budget.latencyMs, fps = c.budget.fps ?? budget.fps;
      if (latencyMs === 0 && fps === 0) {
        const own = [c.budget.latencyMs != null ? 'latencyMs' : '', c.budget.fps != null ? 'fps' : ''].filter(Boolean).join(' and ');
        const rest = c.budget.latencyMs != null && c.budget.fps != null ? '' : `, the rest from budget.*`;
        out.push(`config: cameras[${i}].budget.latencyMs or .fps must be > 0 (both are 0: ${own} from the camera${rest}); set one of them for this camera — ${from}`);
      }
    }
  });
  return out;
}
