import type { ValidateFunction } from 'ajv';
import type { IPublishPacket } from 'mqtt';
// ajv's compilation of commandSchemas (src/mqtt/schemas.ts), written out by scripts/write-validators.ts so the
// daemon does not load ajv; tests/unit/config-validator.test.ts checks it is current
import * as generated from './validators.generated.js';
import { COMMAND_VERBS, type CommandArgs, type CommandVerb, type ReplyPayload } from './payloads.js';
import { isErrorCode, type ErrorCode } from '../util/errors.js';
import { COMMAND_LANES, Gate, LANE_OF, OWN_DEADLINE, type Lane, type LaneName } from './command-lanes.js';

export type CommandHandlers = { [V in CommandVerb]: (args: CommandArgs[V]) => Promise<unknown> };

export const MAX_COMMAND_BYTES = 16 * 1024;

export interface ReplyTarget {
  topic: string;
  correlationData?: Buffer;
}

/**
 * Validates and dispatches commands. Only the allow-listed verbs exist; a payload must be JSON under 16 KiB and
 * match its verb's schema; a request id already seen is refused (replay). Commands that cost (pull-model,
 * reselect/set-budget, snapshot) run in lanes of bounded slots (COMMAND_LANES): past them the reply is `busy` at
 * once, so a flood of commands queues a few at most and a stop does not wait behind it. Every request gets a reply,
 * success or error, and nothing a request says can throw out of here.
 */
export class CommandDispatcher {
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly seenIds = new Map<string, number>();
  private readonly gates = new Map<LaneName, Gate>();
  readonly counts = { ok: 0, refused: 0 };

  constructor(private readonly handlers: CommandHandlers, private readonly timeoutMs = 60_000, private readonly maxSeen = 1000, lanes: Record<LaneName, Lane> = COMMAND_LANES) {
    const byExport = generated as unknown as Record<string, ValidateFunction>;
    for (const verb of COMMAND_VERBS) this.validators.set(verb, byExport[verb.replace(/[^A-Za-z0-9]/g, '_')]!);
    for (const [name, lane] of Object.entries(lanes)) this.gates.set(name as LaneName, new Gate(lane));
  }

  async handle(verb: string, payload: Buffer): Promise<ReplyPayload> {
    const refuse = (code: ErrorCode, message: string, id?: string): ReplyPayload => {
      this.counts.refused++;
      return { ...(id ? { id } : {}), verb: safeVerb(verb), ok: false, error: { code, message } };
    };
    if (!(COMMAND_VERBS as readonly string[]).includes(verb)) {
      return refuse('E_UNKNOWN_VERB', `unknown command "${safeVerb(verb)}"; accepted: ${COMMAND_VERBS.join(', ')}`);
    }
    if (payload.length > MAX_COMMAND_BYTES) return refuse('E_TOO_LARGE', `payload of ${payload.length} bytes exceeds ${MAX_COMMAND_BYTES}`);
    let req: unknown = {};
    if (payload.length > 0) {
      try { req = JSON.parse(payload.toString('utf8')); } catch { return refuse('E_INVALID_JSON', 'payload is not valid JSON; send {"id": "...", "args": {...}}'); }
    }
    const validate = this.validators.get(verb)!;
    if (!validate(req)) {
      const e = validate.errors?.[0];
      const where = e?.instancePath || '(payload)';
      return refuse('E_INVALID_ARGS', `${where} ${e?.message ?? 'is invalid'}${e?.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    }
    const { id, args } = req as { id?: string; args?: unknown };
    if (id !== undefined && this.seenIds.has(id)) return refuse('E_REPLAY', `request id "${id}" was already handled; use a new id per request`, id);
    const v = verb as CommandVerb;
    const laneName = LANE_OF[v];
    const gate = laneName ? this.gates.get(laneName) : undefined;
    const slot = gate ? gate.acquire() : Promise.resolve(() => undefined);
    // refused before its id counts as seen: the same request may be sent again once the lane has room
    if (!slot) return refuse('E_BUSY', busyMessage(v, gate!.load), id);
    if (id !== undefined) {
      this.seenIds.set(id, Date.now());
      if (this.seenIds.size > this.maxSeen) this.seenIds.delete(this.seenIds.keys().next().value!);
    }
    let expired = false;
    const work = (async () => {
      const release = await slot;
      // its requester was answered `timeout` while it waited: it does not run late
      if (expired) { release(); throw new Error('expired while waiting'); }
      try {
        const handler = this.handlers[v] as (a: unknown) => Promise<unknown>;
        return await handler(args ?? {});
      } finally {
        // the slot is held until the handler ends, also after a `timeout` reply: the work is still going on
        release();
      }
    })();
    try {
      const result = OWN_DEADLINE.has(v) ? await work : await withTimeout(work, this.timeoutMs, () => { expired = true; });
      this.counts.ok++;
      return { ...(id ? { id } : {}), verb, ok: true, ...(result === undefined ? {} : { result }) };
    } catch (err) {
      const e = err as Error & { code?: unknown };
      // a code edgefit documents (docs/errors.md), else E_FAILED: a library's own code (ENOENT, ...) is no contract
      return refuse(isErrorCode(e.code) ? e.code : 'E_FAILED', e.message ?? String(err), id);
    }
  }
}

function busyMessage(verb: CommandVerb, load: { running: number; waiting: number }): string {
  if (verb === 'pull-model') return 'a pull-model is already running; wait for its reply, then send this again';
  const what = verb === 'snapshot' ? 'snapshots' : 're-selections (reselect, set-budget)';
  return `${load.running} ${what} running and ${load.waiting} waiting already; send this again once they are answered`;
}

/** Where the reply goes: MQTT 5 response topic (with correlation data) or the 3.1.1 reply topic. */
export function replyTarget(packet: IPublishPacket, fallbackTopic: string): ReplyTarget {
  const p = packet.properties;
  const rt = p?.responseTopic;
  if (rt && !/[+#\u0000]/.test(rt) && rt.length <= 512) {
    return { topic: rt, ...(p.correlationData ? { correlationData: Buffer.from(p.correlationData) } : {}) };
  }
  return { topic: fallbackTopic };
}

function safeVerb(v: string): string {
  return /^[A-Za-z0-9._-]{1,64}$/.test(v) ? v : 'invalid';
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => { onTimeout(); reject(Object.assign(new Error(`command did not finish within ${ms} ms`), { code: 'E_TIMEOUT' })); }, ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e); });
  });
}
