import { describe, it, expect } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Ajv } from 'ajv';
import { configSchema, publishedSchema, loadConfig, formatConfig, fields } from '../../src/config/index.js';
import { projectRoot } from '../../src/util/paths.js';

type Node = { type?: string; default?: unknown; description?: unknown; properties?: Record<string, Node>; items?: Node };

function walk(node: Node, path: string, visit: (path: string, node: Node) => void): void {
  visit(path, node);
  for (const [k, child] of Object.entries(node.properties ?? {})) walk(child, path ? `${path}.${k}` : k, visit);
}

const cli = join(projectRoot, 'bin', 'edgefit.js');
const host = { hostname: 'h', isRoot: false, home: '/home/u' };

describe('config schema', () => {
  it('gives every field, objects included, a default and a description', () => {
    const missing: string[] = [];
    walk(configSchema as unknown as Node, '', (path, node) => {
      if (!path) return;
      if (node.default === undefined) missing.push(`${path}: default`);
      if (typeof node.description !== 'string' || node.description.length < 10) missing.push(`${path}: description`);
    });
    expect(missing).toEqual([]);
    expect(fields.length).toBeGreaterThan(40);
  });

  it('is a strict JSON Schema whose own defaults validate, and the daemon\'s defaults match them', () => {
    const ajv = new Ajv({ strict: true });
    ajv.addKeyword({ keyword: 'x-accepted', schemaType: 'string' });
    const validate = ajv.compile(publishedSchema());
    const defaults = (configSchema as unknown as Node).default as Record<string, unknown>;
    // the two "auto" values are empty in the schema and resolved at load
    expect(validate(defaults)).toBe(true);
    const { config } = loadConfig({ env: {}, host });
    expect({ ...config, deviceId: '', stateDir: '' }).toEqual(defaults);
    expect(validate({ ...defaults, bogus: 1 })).toBe(false);
  });

  it('is committed in schemas/config.schema.json exactly as generated (run `edgefit config --schema > schemas/config.schema.json`)', () => {
    const committed = JSON.parse(readFileSync(join(projectRoot, 'schemas', 'config.schema.json'), 'utf8')) as unknown;
    expect(committed).toEqual(publishedSchema());
  });

  it('prints the effective configuration with sources, password redacted', () => {
    const loaded = loadConfig({ env: { EDGEFIT_MQTT_PASSWORD: 'hunter2', EDGEFIT_MQTT_URL: 'mqtt://b:1883' }, overrides: { 'log.level': 'debug' }, host });
    const text = formatConfig(loaded);
    expect(text).not.toContain('hunter2');
    expect(text).toMatch(/^mqtt\.password\s+"\*\*\*"\s+\(EDGEFIT_MQTT_PASSWORD\)$/m);
    expect(text).toMatch(/^mqtt\.url\s+"mqtt:\/\/b:1883"\s+\(EDGEFIT_MQTT_URL\)$/m);
    expect(text).toMatch(/^log\.level\s+"debug"\s+\(flag\)$/m);
    expect(text).toMatch(/^camera\.fps\s+15\s+\(default\)$/m);
    const json = JSON.parse(formatConfig(loaded, { json: true })) as { config: { mqtt: { password: string } }; sources: Record<string, string> };
    expect(json.config.mqtt.password).toBe('***');
    expect(json.sources['mqtt.url']).toBe('env');
    expect(loaded.config.mqtt.password).toBe('hunter2');
  });
});

describe('edgefit config (compiled CLI)', () => {
  // EDGEFIT_TEST_DIST: the CLI runs from this test run's own build, not a possibly stale dist/
  const env = { PATH: process.env.PATH ?? '', HOME: '/home/u', ...(process.env.EDGEFIT_TEST_DIST ? { EDGEFIT_TEST_DIST: process.env.EDGEFIT_TEST_DIST } : {}) };

  it('--print --json shows values and sources from file, env and --set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-config-cli-'));
    const f = join(dir, 'c.json');
    writeFileSync(f, JSON.stringify({ camera: { fps: 4 } }));
    const r = spawnSync(process.execPath, [cli, 'config', '--print', '--json', '--config', f, '--set', 'mqtt.prefix=site1'], {
      env: { ...env, EDGEFIT_MQTT_URL: 'mqtt://env:1883' }, encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { config: { camera: { fps: number }; mqtt: { url: string; prefix: string } }; sources: Record<string, string> };
    expect(out.config.camera.fps).toBe(4);
    expect(out.sources['camera.fps']).toBe('file');
    expect(out.config.mqtt.url).toBe('mqtt://env:1883');
    expect(out.sources['mqtt.url']).toBe('env');
    expect(out.config.mqtt.prefix).toBe('site1');
    expect(out.sources['mqtt.prefix']).toBe('flag');
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits non-zero with the field, accepted values and source on a bad value', () => {
    const r = spawnSync(process.execPath, [cli, 'config', '--print'], { env: { ...env, EDGEFIT_MQTT_PROTOCOL_VERSION: '6' }, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('config: mqtt.protocolVersion must be one of 4, 5 (got 6) — from EDGEFIT_MQTT_PROTOCOL_VERSION');
  });

  it('--schema prints the published schema', () => {
    const r = spawnSync(process.execPath, [cli, 'config', '--schema'], { env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(publishedSchema());
  });
});
