import { describe, it, expect } from 'vitest';
import { bindTask, registerTask, taskFor } from '../../src/pipeline/tasks.js';
import { catalogTaskOf } from '../../src/config/task.js';
import { loadConfig } from '../../src/config/load.js';

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
