import type { IncomingMessage } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { EdgefitError } from '../util/errors.js';

/**
 * Who may talk to the dashboard's HTTP server. Everything it serves (device data, the snapshot command) is
 * behind three checks, in this order:
 *   1. Host is a name this server serves, else 421: a DNS-rebinding page (attacker.example re-pointed at
 *      127.0.0.1) reaches the socket with its own name in Host, and gets nothing, not even a credentials prompt.
 *   2. credentials, when configured (required when listening beyond loopback), else 401.
 *   3. on anything but GET/HEAD, an Origin, when sent, is this server's own (or an --allowed-host), else 403.
 * Only the host name is compared, not the port: rebinding is about names, and a proxy may change the port.
 */

/** The environment variables credentials come from (never flags: flags show in `ps`). */
export const AUTH_ENV = {
  token: 'EDGEFIT_DASHBOARD_TOKEN',
  user: 'EDGEFIT_DASHBOARD_USER',
  password: 'EDGEFIT_DASHBOARD_PASSWORD',
} as const;

export interface DashboardAuth {
  /** accepted as `Authorization: Bearer <token>`, or as the Basic password with any user name (browsers) */
  token?: string;
  /** Basic auth; both or neither */
  user?: string;
  password?: string;
}

export interface GuardOptions {
  /** the listen address */
  host: string;
  /** more names the server is reached by (a LAN name, a reverse proxy's) */
  allowedHosts?: string[];
  auth?: DashboardAuth;
}

export interface Refusal { status: number; headers: Record<string, string | string[]>; error: string }

const MIN_TOKEN = 16;
const MIN_PASSWORD = 12;
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Credentials from the environment; undefined when none is set. Throws when what is set is unusable. */
export function authFromEnv(env: NodeJS.ProcessEnv): DashboardAuth | undefined {
  const token = env[AUTH_ENV.token] || undefined;
  const user = env[AUTH_ENV.user] || undefined;
  const password = env[AUTH_ENV.password] || undefined;
  if (!token && !user && !password) return undefined;
  const auth: DashboardAuth = { ...(token ? { token } : {}), ...(user ? { user } : {}), ...(password ? { password } : {}) };
  validateAuth(auth);
  return auth;
}

export function validateAuth(a: DashboardAuth): void {
  if (a.token !== undefined && a.token.length < MIN_TOKEN) {
    throw new EdgefitError('E_DASHBOARD_AUTH', `${AUTH_ENV.token} must be at least ${MIN_TOKEN} characters (it has ${a.token.length}); make one with \`openssl rand -hex 24\``);
  }
  if ((a.user === undefined) !== (a.password === undefined)) {
    throw new EdgefitError('E_DASHBOARD_AUTH', `set both ${AUTH_ENV.user} and ${AUTH_ENV.password} for Basic auth (only ${a.user === undefined ? AUTH_ENV.password : AUTH_ENV.user} is set)`);
  }
  if (a.user !== undefined && !/^[\x21-\x39\x3b-\x7e]{1,64}$/.test(a.user)) {
    throw new EdgefitError('E_DASHBOARD_AUTH', `${AUTH_ENV.user} must be 1-64 printable ASCII characters without ':' or spaces`);
  }
  if (a.password !== undefined && a.password.length < MIN_PASSWORD) {
    throw new EdgefitError('E_DASHBOARD_AUTH', `${AUTH_ENV.password} must be at least ${MIN_PASSWORD} characters (it has ${a.password.length})`);
  }
}

/** True for addresses that only this machine reaches. A name other than "localhost" is not trusted to be one. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** `name` as it appears in a URL's hostname: lower case, IPv6 in brackets, no trailing dot. */
function normalise(name: string): string {
  const n = name.toLowerCase().replace(/\.$/, '');
  return isIP(n) === 6 ? `[${n}]` : n;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function same(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

export class RequestGuard {
  private readonly names: Set<string>;
  /** the names given explicitly: also accepted as a POST's Origin (a reverse proxy's public name) */
  private readonly extra: Set<string>;
  private readonly wildcard: boolean;
  private readonly challenge: string[];

  constructor(private readonly o: GuardOptions) {
    if (!isLoopback(o.host) && !o.auth) {
      throw new EdgefitError('E_DASHBOARD_AUTH', `the dashboard would listen on ${o.host}, beyond this machine, and serve the fleet and its snapshot command to anyone who reaches it. `
        + `Set ${AUTH_ENV.token} (at least ${MIN_TOKEN} characters, e.g. \`openssl rand -hex 24\`; a browser sends it as the password, with any user name), `
        + `or ${AUTH_ENV.user} and ${AUTH_ENV.password} for Basic auth, in the dashboard's environment; or keep --host 127.0.0.1 behind a reverse proxy that authenticates`);
    }
    if (o.auth) validateAuth(o.auth);
    this.extra = new Set((o.allowedHosts ?? []).map((h) => {
      const n = normalise(h.trim());
      if (!HOSTNAME.test(n) && !(n.startsWith('[') && isIP(n.slice(1, -1)) === 6)) {
        throw new EdgefitError('E_FLAGS', `allowed host "${h.slice(0, 100)}" must be a host name or IP address, without a port or wildcard (e.g. --allowed-host dash.lan)`);
      }
      return n;
    }));
    this.wildcard = ['0.0.0.0', '::', '[::]', ''].includes(o.host);
    this.names = new Set([...LOOPBACK_NAMES, ...(this.wildcard ? [] : [normalise(o.host)]), ...this.extra]);
    this.challenge = ['Basic realm="edgefit dashboard", charset="UTF-8"', ...(o.auth?.token ? ['Bearer realm="edgefit dashboard"'] : [])];
  }

  /** undefined: go ahead; else what to answer instead. */
  check(req: IncomingMessage): Refusal | undefined {
    const host = parseHost(req.headers.host);
    if (!host || !this.serves(host.hostname)) {
      return { status: 421, headers: {}, error: `this dashboard does not serve the host name ${JSON.stringify((req.headers.host ?? '').slice(0, 100))}; open it by an address it serves, or start it with --allowed-host <name>` };
    }
    if (this.o.auth && !this.authorised(req.headers.authorization)) {
      return { status: 401, headers: { 'www-authenticate': this.challenge }, error: 'credentials required (Basic auth, or Authorization: Bearer <token>)' };
    }
    const method = req.method ?? 'GET';
    const origin = req.headers.origin;
    if (method !== 'GET' && method !== 'HEAD' && origin !== undefined && !this.ownOrigin(origin, host.host)) {
      return { status: 403, headers: {}, error: `requests from the origin ${JSON.stringify(origin.slice(0, 100))} are refused: only this dashboard's own page may send commands` };
    }
    return undefined;
  }

  private serves(hostname: string): boolean {
    if (this.names.has(hostname)) return true;
    // on 0.0.0.0 / :: the machine's own addresses are its names (read now: DHCP may have changed them)
    if (!this.wildcard || isIP(hostname.replace(/^\[(.*)\]$/, '$1')) === 0) return false;
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) if (normalise(a.address) === hostname) return true;
    }
    return false;
  }

  private ownOrigin(origin: string, requestHost: string): boolean {
    let u: URL;
    try { u = new URL(origin); } catch { return false; }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
    return u.host === requestHost || this.extra.has(normalise(u.hostname));
  }

  private authorised(header: string | undefined): boolean {
    const a = this.o.auth!;
    if (!header) return false;
    const m = /^(\S+) +(\S+)$/.exec(header.trim());
    if (!m) return false;
    const scheme = m[1]!.toLowerCase();
    if (scheme === 'bearer') return a.token !== undefined && same(m[2]!, a.token);
    if (scheme !== 'basic') return false;
    const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    // every comparison runs whichever fails: the time does not say which one did
    const tokenOk = a.token !== undefined && same(password, a.token);
    const userOk = a.user !== undefined && same(user, a.user);
    const passwordOk = a.password !== undefined && same(password, a.password);
    return tokenOk || (userOk && passwordOk);
  }
}

function parseHost(h: string | undefined): { host: string; hostname: string } | undefined {
  if (!h || h.length > 300) return undefined;
  try {
    const u = new URL(`http://${h}`);
    if (u.username || u.password || u.pathname !== '/' || u.search || u.hash) return undefined;
    return { host: u.host, hostname: normalise(u.hostname) };
  } catch {
    return undefined;
  }
}
