import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/util/paths.js';
import { payloadSchemas, commandSchemas } from '../src/mqtt/schemas.js';
import { fleetSchemas } from '../src/mqtt/fleet-schemas.js';

/** Writes schemas/mqtt/*.schema.json from src/mqtt/schemas.ts (a test checks the committed files match). */
export function schemaFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [name, s] of Object.entries(payloadSchemas)) files[`${name}.schema.json`] = JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...s }, null, 2) + '\n';
  for (const [name, s] of Object.entries(fleetSchemas)) files[`${name}.schema.json`] = JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...s }, null, 2) + '\n';
  for (const [verb, s] of Object.entries(commandSchemas)) files[`cmd-${verb}.schema.json`] = JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...s }, null, 2) + '\n';
  return files;
}

if (process.argv[1]?.endsWith('write-schemas.js')) {
  const dir = join(projectRoot, 'schemas', 'mqtt');
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(schemaFiles())) writeFileSync(join(dir, f), text);
  process.stdout.write(`wrote ${Object.keys(schemaFiles()).length} schemas to ${dir}\n`);
}
