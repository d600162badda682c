/** Polls until `fn` returns something other than undefined/false, or fails naming what it waited for. */
export async function waitFor<T>(fn: () => T | undefined | false, what: string, ms = 30_000, pollMs = 25): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
