import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { sharedData } from '../../src/util/paths.js';
import { parseLabels, loadLabels, fitDetectionLabels } from '../../src/importers/tflite/card.js';
import { EdgefitError } from '../../src/util/errors.js';

describe('label files', () => {
  it('plain one-label-per-line files are read as they are', () => {
    expect(parseLabels('background\ntench, Tinca tinca\n\ngoldfish\r\n')).toEqual(['background', 'tench, Tinca tinca', 'goldfish']);
  });
  it('numbered lines: "id label" and "id: label", gaps keep output N on the line with id N', () => {
    expect(parseLabels('0 background\n1 tench\n2 goldfish')).toEqual(['background', 'tench', 'goldfish']);
    expect(parseLabels('0: person\n2: car\n3:  bus stop')).toEqual(['person', 'class_1', 'car', 'bus stop']);
    // not increasing: not a numbered file, kept whole
    expect(parseLabels('3 little pigs\n1 wolf')).toEqual(['3 little pigs', '1 wolf']);
  });
  it("COCO's coco_labels.txt: 80 names over ids 0..89", async () => {
    const labels = await loadLabels(join(sharedData, 'labels/coco_labels.txt'));
    expect(labels).toHaveLength(90);
    expect(labels.filter((l) => !l.startsWith('class_'))).toHaveLength(80);
    expect([labels[0], labels[16], labels[89]]).toEqual(['person', 'cat', 'toothbrush']);
  });
  it('a detector takes exactly its classes, or background first and then its classes', () => {
    expect(fitDetectionLabels(['a', 'b'], 2, 'm')).toEqual(['a', 'b']);
    expect(fitDetectionLabels(['background', 'a', 'b'], 2, 'm')).toEqual(['a', 'b']);
    expect(() => fitDetectionLabels(['a'], 2, 'm')).toThrow(EdgefitError);
    expect(() => fitDetectionLabels(['a', 'b', 'c', 'd'], 2, 'm')).toThrow(/has 2 classes but the labels file names 4/);
  });
});
