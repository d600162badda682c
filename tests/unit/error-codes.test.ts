import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, isErrorCode } from '../../src/util/errors.js';
import { projectRoot } from '../../src/util/paths.js';

function documented(): string[] {
  const md = readFileSync(join(projectRoot, 'docs/errors.md'), 'utf8');
  return [...md.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') && !p.endsWith('.generated.ts') ? [p] : [];
  });
}

describe('error codes', () => {
  it('docs/errors.md documents exactly the codes of ErrorCode, each once', () => {
    const doc = documented();
    expect(new Set(doc).size).toBe(doc.length);
    expect([...doc].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('one form: E_ and upper snake case', () => {
    for (const c of ERROR_CODES) expect(c).toMatch(/^E_[A-Z0-9]+(_[A-Z0-9]+)*$/);
  });

  it('every code is used in src/, and every E_ literal of src/ is a code', () => {
    const text = sources(join(projectRoot, 'src')).filter((f) => !f.endsWith(join('util', 'errors.ts'))).map((f) => readFileSync(f, 'utf8')).join('\n');
    const used = new Set([...text.matchAll(/'(E_[A-Z0-9]+(?:_[A-Z0-9]+)*)'/g)].map((m) => m[1]!));
    expect(ERROR_CODES.filter((c) => !used.has(c))).toEqual([]);
    expect([...used].filter((c) => !isErrorCode(c))).toEqual([]);
  });
});
