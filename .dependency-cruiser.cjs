/**
 * The layer rule (docs/ARCHITECTURE.md, "Layers"): a module may import its own layer or a lower one, never a
 * higher one, and no import cycle at all (type-only imports included: a cycle of types is still one idea in
 * two homes). `npm run lint:layers` checks it; `npm test` runs it first.
 */
// Bottom to top. A folder of src/ (or src/daemon.ts) per entry; several folders may share a layer.
const layers = [
  ['types'],
  ['util'],
  ['config'],
  ['image', 'telemetry', 'detect'],
  ['zoo'],
  ['onnx'],
  ['importers'],
  ['quant'],
  ['engine'],
  ['device'],
  ['catalog'],
  ['profile'],
  ['select'],
  ['camera'],
  ['pipeline'],
  ['mqtt'],
  ['daemon'],
  ['dashboard'],
  ['cli'],
];

const path = (folder) => (folder === 'daemon' ? '^src/daemon(\\.ts$|/)' : `^src/${folder}/`);
const any = (folders) => `(${folders.map(path).join('|')})`;

const upward = layers.slice(0, -1).map((own, i) => ({
  name: `layer-${own.join('-')}`,
  comment: `${own.join(', ')} may not import a higher layer (${layers.slice(i + 1).flat().join(', ')})`,
  severity: 'error',
  from: { path: any(own) },
  to: { path: any(layers.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'an import cycle (type-only and dynamic imports count): give the shared name one home lower down',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-in-a-layer',
      comment: 'every folder of src/ has a layer: add a new one to the list in .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^src/', pathNot: `^(${layers.flat().map(path).join('|')})` },
      to: {},
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    parser: 'swc',
  },
};
