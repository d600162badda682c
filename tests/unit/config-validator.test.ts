import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { configValidatorSource, CONFIG_VALIDATOR } from '../../scripts/write-validators.js';
import { projectRoot } from '../../src/util/paths.js';
import { configSchema } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/index.js';
import { validate as generated } from '../../src/config/validator.generated.js';

function runtimeValidator(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
  ajv.addKeyword({ keyword: 'x-accepted', schemaType: 'string' });
  return ajv.compile(configSchema);
}

/** what describeError reads from an ajv error */
const shape = (errors: ValidateFunction['errors']) => (errors ?? []).map((e) => ({ keyword: e.keyword, instancePath: e.instancePath, params: e.params, parentSchema: e.parentSchema, message: e.message }));

describe('the generated config validator (scripts/write-validators.ts)', () => {
  it(`the committed ${CONFIG_VALIDATOR} is up to date (npm run build && node dist/scripts/write-validators.js)`, () => {
    expect(readFileSync(join(projectRoot, CONFIG_VALIDATOR), 'utf8')).toBe(configValidatorSource());
  });

  it('accepts and refuses exactly what ajv compiling the schema at run time does, with the same errors', () => {
    const runtime = runtimeValidator();
    const v = generated as unknown as ValidateFunction;
    const valid = loadConfig({ env: {}, host: { hostname: 'h', isRoot: false, home: '/home/u' } }).config as unknown as Record<string, Record<string, unknown>>;
    const cases: unknown[] = [
      valid,
      { ...valid, deviceId: 'a b/c' },
      { ...valid, deviceId: 'x'.repeat(65) },
      { ...valid, camera: { ...valid.camera, fps: -1, width: 1.5 } },
      { ...valid, engine: { ...valid.engine, providers: ['cpu', 'cpu', 'npu'] } },
      { ...valid, mqtt: { ...valid.mqtt, protocolVersion: 3, prefix: 'a/#' } },
      { ...valid, budget: { ...valid.budget, memoryFraction: 0 }, extra: true },
      { ...valid, log: undefined },
      { ...valid, stateDir: 'bad\u0007dir' },
      'not an object',
    ];
    for (const c of cases) {
      const a = runtime(c);
      const b = v(c);
      expect(b, JSON.stringify(c).slice(0, 80)).toBe(a);
      expect(shape(v.errors)).toEqual(shape(runtime.errors));
    }
    // the cases are not all valid: the comparison saw errors
    expect(cases.filter((c) => !runtime(c)).length).toBe(cases.length - 1);
  });
});
