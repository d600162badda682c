/** Numeric SVG attributes (positions, sizes) that are not finite numbers: what a chart of bad figures produces. */
export function badCoordinates(svg: string): string[] {
  const bad: string[] = [];
  for (const m of svg.matchAll(/\s(x|y|x1|x2|y1|y2|cx|cy|r|width|height)="([^"]*)"/g)) {
    if (!Number.isFinite(Number(m[2])) || m[2]!.trim() === '') bad.push(`${m[1]}="${m[2]}"`);
    if (bad.length >= 10) break;
  }
  return bad;
}
