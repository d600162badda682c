import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { commandExport, commandValidatorsSource, COMMAND_VALIDATORS, configValidatorSource, CONFIG_VALIDATOR } from '../../scripts/write-validators.js';
import { commandSchemas } from '../../src/mqtt/schemas.js';
import { COMMAND_VERBS } from '../../src/mqtt/payloads.js';
import * as commandValidators from '../../src/mqtt/validators.generated.js';
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

describe('the generated MQTT command validators', () => {
  it(`the committed ${COMMAND_VALIDATORS} is up to date`, () => {
    expect(readFileSync(join(projectRoot, COMMAND_VALIDATORS), 'utf8')).toBe(commandValidatorsSource());
  });

  it('one per verb, accepting and refusing what a run-time compile does', () => {
    const ajv = new Ajv({ allErrors: false, strict: false });
    const cases: unknown[] = [{}, { id: 'a' }, { id: '' }, { args: {} }, { args: { x: 1 } }, { id: 'r', args: { latencyMs: 50 } }, { args: { fps: -1 } }, { args: { mirror: '/m' } }, { args: { mirror: 5 } }, 'x', null];
    let refused = 0;
    for (const verb of COMMAND_VERBS) {
      const v = (commandValidators as unknown as Record<string, ValidateFunction>)[commandExport(verb)];
      expect(v, verb).toBeTypeOf('function');
      const runtime = ajv.compile(commandSchemas[verb]!);
      for (const c of cases) {
        expect(v!(c), `${verb} ${JSON.stringify(c)}`).toBe(runtime(c));
        expect(v!.errors?.[0]?.message).toBe(runtime.errors?.[0]?.message);
        if (!runtime(c)) refused++;
      }
    }
    expect(refused).toBeGreaterThan(COMMAND_VERBS.length * 2);
  });
});
