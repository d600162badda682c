/** Turns what a capture process said on its way out into a message that tells the user what to do. */
import { redactUrl, hasScheme } from '../util/redact.js';

/**
 * A camera source as it may be shown, and a line a capture process printed with that source's password hidden:
 * names and errors end up in logs and MQTT. The password is known (it is in the source), so it is removed from
 * the text wherever it appears, whatever characters it holds; URLs of other hosts keep the pattern-based rule.
 */
export function redactSource(source: string): string {
  return hasScheme(source) ? redactUrl(source) : source;
}

export function redactText(text: string, source: string): string {
  let out = text.split(source).join(redactSource(source));
  const secret = passwordOf(source);
  if (secret) out = out.split(secret).join('***');
  return redactUrlsIn(out);
}

/** Text that may hold URLs of any host: user:secret@ hidden where the password has no '@' or '/'. */
export function redactUrlsIn(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^/:@\s]+):[^@/\s]*@/gi, '$1:***@');
}

function passwordOf(url: string): string | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(.*)@/.exec(url);
  const userinfo = m?.[1];
  const colon = userinfo?.indexOf(':') ?? -1;
  return userinfo && colon >= 0 && colon < userinfo.length - 1 ? userinfo.slice(colon + 1) : undefined;
}

/** The last non-empty lines of a process's stderr, bounded so a chatty process cannot grow memory. */
export class StderrTail {
  private text = '';
  constructor(private readonly maxChars = 4000) {}
  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > this.maxChars) this.text = this.text.slice(-this.maxChars);
  }
  lines(): string[] {
    return this.text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  }
  last(): string {
    return this.lines().at(-1) ?? '';
  }
  clear(): void {
    this.text = '';
  }
}

const RULES: Array<{ re: RegExp; say: (input: string) => string }> = [
  { re: /permission denied|EACCES/i, say: (i) => `permission denied opening ${i}: add the daemon's user to the 'video' group (or fix the file's permissions)` },
  { re: /device or resource busy|EBUSY/i, say: (i) => `${i} is busy: another process is using the camera; stop it (fuser -v ${i})` },
  { re: /connection refused|ECONNREFUSED/i, say: (i) => `connection refused by ${i}: is the camera or stream server up, and the host and port right?` },
  { re: /timed? ?out|ETIMEDOUT/i, say: (i) => `timed out connecting to ${i}: check the network path to the camera` },
  { re: /server returned 401|401 unauthori[sz]ed/i, say: (i) => `${i} refused the credentials (401): check the user and password in the URL` },
  { re: /server returned 404|404 not found/i, say: (i) => `${i} answered 404: check the stream path in the URL` },
  { re: /no route to host|network is unreachable|EHOSTUNREACH|ENETUNREACH/i, say: (i) => `${i} is unreachable: check the network and the address` },
  { re: /name or service not known|failed to resolve|EAI_AGAIN|ENOTFOUND/i, say: (i) => `cannot resolve the host of ${i}: check the host name and DNS` },
  { re: /no such file or directory|ENOENT/i, say: (i) => `${i} does not exist: check the path${i.startsWith('/dev/') ? ', that the camera is plugged in, and `ls /dev/video*`' : ''}` },
  { re: /not a video capture device|inappropriate ioctl/i, say: (i) => `${i} is not a video capture device (many USB cameras expose a metadata node too): try the next /dev/video*` },
  { re: /invalid data found/i, say: (i) => `${i} does not contain a video stream ffmpeg can read` },
];

/**
 * A user-facing message for a capture that failed: the first rule matching ffmpeg's (or rpicam's) stderr
 * wins; otherwise the exit status with the last line it printed.
 */
export function diagnose(input: string, stderrLines: string[], exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  const shown = redactSource(input);
  const text = stderrLines.join('\n');
  for (const r of RULES) if (r.re.test(text)) return r.say(shown);
  const how = exit.signal ? `was killed by ${exit.signal}` : exit.code !== null ? `exited with code ${exit.code}` : 'delivers no frames';
  const last = stderrLines.at(-1);
  return `capture of ${shown} ${how}${last ? `: ${redactText(last, input)}` : ' without saying why'}`;
}
