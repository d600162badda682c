import type { Target } from './context.js';

/** The targets as a Markdown table (also valid plain text on a terminal). */
export function targetsMarkdown(targets: (Target & { section: string })[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const verdict = (m: boolean | null) => (m === null ? 'n/a' : m ? 'met' : 'NOT met');
  return [
    '| section | what | target | measured | verdict |',
    '|---|---|---|---|---|',
    ...targets.map((t) => `| ${t.section} | ${esc(t.what)} | ${esc(t.target)} | ${esc(t.measured)} | ${verdict(t.met)} |`),
  ].join('\n');
}
