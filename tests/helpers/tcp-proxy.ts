import { createServer, connect, type Server, type Socket } from 'node:net';

/** One MQTT packet seen by the proxy. `up` is client -> broker. */
export interface ProxyPacket {
  conn: number;
  dir: 'up' | 'down';
  /** MQTT control packet type: 1 CONNECT, 3 PUBLISH, 4 PUBACK, 12 PINGREQ, 13 PINGRESP, ... */
  type: number;
  qos: number;
  topic?: string;
  packetId?: number;
  payload?: Buffer;
  at: number;
  /** passed on to the other side (false while held, or when a cut swallowed it) */
  forwarded: boolean;
}

interface Conn {
  id: number;
  client: Socket;
  broker: Socket;
  /** forwarding stopped (half-open: nothing passes, nothing is closed) */
  holdUp: boolean;
  holdDown: boolean;
  protocol: number;
  bufs: { up: Buffer; down: Buffer };
}

interface CutRule {
  match: (p: ProxyPacket) => boolean;
  /** true: the PUBLISH reaches the broker and only its PUBACK is lost; false: the PUBLISH is lost too */
  forward: boolean;
  resolve: (p: ProxyPacket) => void;
}

/**
 * A loopback TCP proxy between an MQTT client and a broker that frames the MQTT packets passing through, so
 * a test can cut a connection at an exact point (after a PUBLISH, before its PUBACK), make it half-open (stop
 * forwarding without closing), refuse new connections (the broker "is down" for this client only) or drop
 * everything. Packets are forwarded whole, one at a time, in order.
 */
export class TcpProxy {
  private readonly conns = new Map<number, Conn>();
  private nextId = 1;
  private cutRule: CutRule | undefined;
  /** new connections are closed at once while true */
  refusing = false;
  /** every client's connection time (ms epoch), refused ones included */
  readonly connectTimes: number[] = [];
  readonly packets: ProxyPacket[] = [];

  private constructor(private readonly server: Server, readonly port: number, readonly targetPort: number) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    let self: TcpProxy | undefined;
    const server = createServer((sock) => self!.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    self = new TcpProxy(server, port, targetPort);
    return self;
  }

  get url(): string { return `mqtt://127.0.0.1:${this.port}`; }

  /** connections open now */
  get open(): number { return this.conns.size; }

  private accept(client: Socket): void {
    this.connectTimes.push(Date.now());
    client.on('error', () => undefined);
    if (this.refusing) { client.destroy(); return; }
    const broker = connect(this.targetPort, '127.0.0.1');
    broker.on('error', () => undefined);
    const c: Conn = { id: this.nextId++, client, broker, holdUp: false, holdDown: false, protocol: 4, bufs: { up: Buffer.alloc(0), down: Buffer.alloc(0) } };
    this.conns.set(c.id, c);
    const close = () => {
      if (!this.conns.has(c.id)) return;
      this.conns.delete(c.id);
      client.destroy();
      broker.destroy();
    };
    client.on('close', close);
    broker.on('close', close);
    client.on('data', (d: Buffer) => this.onData(c, 'up', d));
    broker.on('data', (d: Buffer) => this.onData(c, 'down', d));
  }

  private onData(c: Conn, dir: 'up' | 'down', d: Buffer): void {
    let buf = c.bufs[dir].length ? Buffer.concat([c.bufs[dir], d]) : d;
    for (;;) {
      const len = packetLength(buf);
      if (len === undefined || buf.length < len) break;
      const raw = buf.subarray(0, len);
      buf = buf.subarray(len);
      this.onPacket(c, dir, Buffer.from(raw));
    }
    c.bufs[dir] = Buffer.from(buf);
  }

  private onPacket(c: Conn, dir: 'up' | 'down', raw: Buffer): void {
    if (!this.conns.has(c.id)) return;
    const p = parse(c, dir, raw);
    this.packets.push(p);
    if (dir === 'up' && p.type === 1) c.protocol = raw[raw.indexOf('MQTT', 0, 'latin1') + 4] ?? 4;
    if ((dir === 'up' && c.holdUp) || (dir === 'down' && c.holdDown)) return;
    const rule = this.cutRule;
    if (rule && dir === 'up' && p.type === 3 && p.qos > 0 && rule.match(p)) {
      this.cutRule = undefined;
      // from here on the client hears nothing on this connection, so the PUBACK never reaches it
      c.holdDown = true;
      c.holdUp = true;
      if (rule.forward) { c.broker.write(raw); p.forwarded = true; }
      // give the broker time to route the message before both ends go away
      setTimeout(() => { c.client.destroy(); c.broker.destroy(); rule.resolve(p); }, 300);
      return;
    }
    (dir === 'up' ? c.broker : c.client).write(raw);
    p.forwarded = true;
  }

  /** Half-open: every current connection stops forwarding in both directions but stays open. */
  blackhole(): void {
    for (const c of this.conns.values()) { c.holdUp = true; c.holdDown = true; }
  }

  /** Closes every current connection at once. */
  cutAll(): void {
    for (const c of this.conns.values()) { c.client.destroy(); c.broker.destroy(); }
  }

  /**
   * Stops what the clients send, lets what the broker already answered (PUBACKs) reach them for drainMs,
   * then closes: the client's view of what was acknowledged matches the broker's exactly.
   */
  async isolate(drainMs = 300): Promise<void> {
    for (const c of this.conns.values()) c.holdUp = true;
    await new Promise((r) => setTimeout(r, drainMs));
    this.cutAll();
  }

  /** Cuts the connection that carries the next QoS>0 PUBLISH matching `match`; resolves with that PUBLISH. */
  cutAfterPublish(match: (p: ProxyPacket) => boolean, forward = true): Promise<ProxyPacket> {
    return new Promise((resolve) => { this.cutRule = { match, forward, resolve }; });
  }

  /** PUBLISH packets the clients sent (before any cut), with their connection ids. */
  published(match: (p: ProxyPacket) => boolean = () => true): ProxyPacket[] {
    return this.packets.filter((p) => p.dir === 'up' && p.type === 3 && match(p));
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Total bytes of the packet starting at buf[0], or undefined while the header is incomplete. */
function packetLength(buf: Buffer): number | undefined {
  let mult = 1;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    if (i >= buf.length) return undefined;
    const b = buf[i]!;
    value += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) return 1 + i + value;
    mult *= 128;
  }
  throw new Error('malformed MQTT remaining length');
}

function varint(buf: Buffer, off: number): [number, number] {
  let mult = 1;
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const b = buf[off + i]!;
    value += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) return [value, i + 1];
    mult *= 128;
  }
  throw new Error('malformed MQTT varint');
}

function parse(c: Conn, dir: 'up' | 'down', raw: Buffer): ProxyPacket {
  const type = raw[0]! >> 4;
  const qos = (raw[0]! >> 1) & 3;
  const p: ProxyPacket = { conn: c.id, dir, type, qos: type === 3 ? qos : 0, at: Date.now(), forwarded: false };
  const [, n] = varint(raw, 1);
  let off = 1 + n;
  if (type === 3) {
    const tl = raw.readUInt16BE(off);
    p.topic = raw.subarray(off + 2, off + 2 + tl).toString('utf8');
    off += 2 + tl;
    if (qos > 0) { p.packetId = raw.readUInt16BE(off); off += 2; }
    if (c.protocol === 5) { const [pl, pn] = varint(raw, off); off += pn + pl; }
    p.payload = raw.subarray(off);
  } else if (type === 4 && raw.length >= off + 2) {
    p.packetId = raw.readUInt16BE(off);
  }
  return p;
}

/** The seq of a result PUBLISH seen by the proxy. */
export function seqOf(p: ProxyPacket): number | undefined {
  if (!p.payload || !p.topic?.endsWith('/result')) return undefined;
  try { return (JSON.parse(p.payload.toString()) as { seq?: number }).seq; } catch { return undefined; }
}
