import { describe, it, expect } from 'vitest';
import { bindTask, registerTask, taskFor } from '../../src/pipeline/tasks.js';
import { catalogTaskOf } from '../../src/config/task.js';
import { loadConfig } from '../../src/config/load.js';
import { encodeAnchors } from '../../src/detect/anchors.js';
import type { DetectionSpec } from '../../src/types/detection.js';

/** three anchors, two classes after a background column; zero encodings decode to the anchors themselves */
const anchors = new Float32Array([0.25, 0.25, 0.2, 0.2, 0.75, 0.75, 0.2, 0.2, 0.5, 0.5, 0.4, 0.4]);
const spec: DetectionSpec = {
  postprocess: { maxDetections: 10, maxClassesPerDetection: 1, detectionsPerClass: 10, useRegularNms: false, nmsIouThreshold: 0.5, nmsScoreThreshold: 0.01, numClasses: 2, scales: { y: 10, x: 10, h: 5, w: 5 } },
  background: true, anchorsBase64: encodeAnchors(anchors), anchorCount: 3, resize: 'stretch',
};
/** per anchor: 4 encodings, background, person, dog */
const raw = (rows: [number, number][]) => new Float32Array(rows.flatMap(([person, dog]) => [0, 0, 0, 0, 0, person, dog]));
const detector = { variantId: 'ssd', resolution: 300, nativeResolution: 300, labels: ['person', 'dog'], detection: spec };

const opts = { topK: 3, scoreThreshold: 0, minScore: 0.5, labels: [] as string[] };
const model = { variantId: 'm', resolution: 32, labels: ['cat', 'dog', 'car', 'person', 'bird'] };

describe('the task table', () => {
  it('classification: the k best classes with their labels', () => {
    const interpret = bindTask('classification', model, opts);
    const out = interpret(new Float32Array([0.1, 0.5, 0.05, 0.3, 0.05]));
    expect(out.top.map((t) => t.label)).toEqual(['dog', 'person', 'cat']);
    expect(out.detections).toBeUndefined();
    expect(out.counts).toBeUndefined();
  });

  it('classification with a label filter: the k best of the allowed labels, not the allowed among the k best', () => {
    const interpret = bindTask('classification', model, { ...opts, topK: 2, labels: ['bird', 'cat'] });
    const out = interpret(new Float32Array([0.01, 0.5, 0.2, 0.25, 0.04]));
    // cat and bird are both outside the overall top 2
    expect(out.top.map((t) => [t.label, t.score])).toEqual([['bird', expect.closeTo(0.04, 6)], ['cat', expect.closeTo(0.01, 6)]]);
    // the mask follows the output size (it is built from the first output)
    expect(interpret(new Float32Array([0.9, 0.1])).top.map((t) => t.label)).toEqual(['cat']);
  });

  it('detection: boxes at or above minScore, counts by label, an optional label filter; top stays empty', () => {
    const interpret = bindTask('detection', detector, opts);
    const out = interpret(raw([[0.9, 0.1], [0.8, 0.2], [0.1, 0.7]]));
    expect(out.top).toEqual([]);
    expect(out.detections!.map((d) => [d.label, d.index])).toEqual([['person', 0], ['person', 0], ['dog', 1]]);
    expect(out.detections![0]!.box.map((x) => Math.round(x * 1000) / 1000)).toEqual([0.15, 0.15, 0.35, 0.35]);
    expect({ ...out.counts }).toEqual({ person: 2, dog: 1 });
    // below minScore: neither reported nor counted
    expect({ ...interpret(raw([[0.9, 0.1], [0.3, 0.2], [0.1, 0.45]])).counts }).toEqual({ person: 1 });
    const dogs = bindTask('detection', detector, { ...opts, labels: ['dog'] });
    const d = dogs(raw([[0.9, 0.1], [0.8, 0.2], [0.1, 0.7]]));
    expect(d.detections!.map((x) => x.label)).toEqual(['dog']);
    expect({ ...d.counts }).toEqual({ dog: 1 });
    // a label named like an object's prototype is counted like any other
    const odd = bindTask('detection', { ...detector, labels: ['__proto__', 'dog'] }, opts)(raw([[0.9, 0.1], [0.1, 0.1], [0.1, 0.1]]));
    expect(JSON.parse(JSON.stringify(odd.counts))).toEqual(JSON.parse('{"__proto__": 1}'));
  });

  it('a detector task refuses a model without a detection section, with what to do', () => {
    expect(() => bindTask('detection', model, opts)).toThrow(/not a detector.*models\.task/);
  });

  it('unknown names are refused with the known ones; registering adds one', () => {
    expect(() => taskFor('segmentation')).toThrow(/known tasks are classification, detection/);
    registerTask('classification', taskFor('classification'));
    expect(taskFor('classification')).toBeDefined();
  });

  it("models.task 'classification' is the synonym of 'imagenet'; detection is accepted", () => {
    expect(catalogTaskOf('classification')).toBe('imagenet');
    expect(catalogTaskOf('detection')).toBe('detection');
    const host = { hostname: 'h', uid: 1000, home: '/home/u' };
    for (const task of ['classification', 'detection', 'imagenet', 'person']) {
      expect(loadConfig({ env: {}, overrides: { 'models.task': task }, host } as never).config.models.task).toBe(task);
    }
    expect(() => loadConfig({ env: {}, overrides: { 'models.task': 'segmentation' }, host } as never)).toThrow(/models\.task/);
    const c = loadConfig({ env: { EDGEFIT_MQTT_RESULTS_LABELS: 'person,car', EDGEFIT_MQTT_HOME_ASSISTANT_WATCH_LABELS: 'person,dog' }, host } as never).config;
    expect(c.mqtt.results).toMatchObject({ labels: ['person', 'car'], minScore: 0.5 });
    expect(c.mqtt.homeAssistant.watchLabels).toEqual(['person', 'dog']);
    expect(loadConfig({ env: {}, host } as never).config.mqtt.homeAssistant.watchLabels).toEqual(['person']);
  });
});
