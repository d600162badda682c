/**
 * Every zoo family, in one table: a new family is its file (builder + `FamilySpec`) and one line here, plus its
 * name in `Family` (src/types/model.ts). The order is the order of `FAMILIES` and of the default ladder.
 */
import type { Family } from './graph.js';
import type { FamilySpec } from './family-spec.js';
import { mobilenetV1 } from './mobilenet_v1.js';
import { mobilenetV2 } from './mobilenet_v2.js';
import { shufflenetV1 } from './shufflenet.js';
import { squeezenet } from './squeezenet.js';
import { xception } from './xception.js';

export const FAMILY_SPECS: readonly FamilySpec[] = [mobilenetV1, mobilenetV2, shufflenetV1, squeezenet, xception];

/** Families by name, from the table. */
export const SPEC_OF: ReadonlyMap<Family, FamilySpec> = new Map(FAMILY_SPECS.map((f) => [f.family, f]));
