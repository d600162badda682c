const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * A URL as it may be shown (config --print, errors, logs): the password in its userinfo replaced by "***".
 *
 * Users type passwords raw, so '@', '/', '?' or ':' may sit inside one and no URL parser agrees on where the
 * userinfo ends. The last '@' is taken as its end: a password can never outlive it, and the only cost of a
 * path that contains '@' is that more than the password is hidden. Without ':' the whole userinfo is hidden
 * (brokers that take a token as the user name). A value without a scheme is treated as a bare authority, so
 * `user:secret@host` typed without `mqtt://` is covered as well.
 */
export function redactUrl(url: string): string {
  const scheme = SCHEME.exec(url)?.[0] ?? '';
  const rest = url.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at < 0) return url;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  const shown = colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***';
  return `${scheme}${shown}${rest.slice(at)}`;
}

/** Whether a value is written as scheme://… (a URL rather than a path, which may contain '@' harmlessly). */
export function hasScheme(s: string): boolean {
  return SCHEME.test(s);
}
