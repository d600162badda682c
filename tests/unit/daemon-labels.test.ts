import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLabels } from '../../src/daemon/labels.js';
import { sharedData } from '../../src/util/paths.js';

describe('readLabels', () => {
  it('reads COCO\'s numbered label file by id, gaps as the index (0 = person, 89 = toothbrush)', async () => {
    const l = (await readLabels(join(sharedData, 'labels/coco_labels.txt')))!;
    expect(l[0]).toBe('person');
    expect(l[9]).toBe('traffic light');
    expect(l[89]).toBe('toothbrush');
    expect(l).toHaveLength(90);
    expect(l[11]).toBe('class_11'); // COCO's dropped category, named as the importer names it
  });

  it('plain files stay one label per line; a file with some numbered lines is plain', async () => {
    const d = mkdtempSync(join(tmpdir(), 'edgefit-labels-'));
    writeFileSync(join(d, 'a.txt'), 'background\ntench, Tinca tinca\n');
    expect(await readLabels(join(d, 'a.txt'))).toEqual(['background', 'tench, Tinca tinca']);
    writeFileSync(join(d, 'b.txt'), '0 zero\nplain\n');
    expect(await readLabels(join(d, 'b.txt'))).toEqual(['0 zero', 'plain']);
    expect(await readLabels(join(d, 'missing.txt'))).toBeUndefined();
  });
});
