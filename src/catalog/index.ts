export type { Variant, Precision, InputFormat } from './types.js';
export { loadCatalog, validateCatalog, isSafeRelativePath, defaultCatalogPath, type Catalog, type CatalogModel, type CatalogLabels, type CatalogFile, type CatalogTask } from './catalog.js';
export { pullModels, describePullItem, type PullOptions, type PullReport, type PullItem, type PullStatus, type ConvertStatus } from './pull.js';
export { buildLadder, ladderWarning, ladderResolutions, type LadderOptions } from './ladder.js';
export { parseMirror, fetchBytes, obtainVerified, type Mirror, type FetchLimits } from './fetch.js';
export { convertOnce, readConverted, loadImporter, type Converted } from './convert.js';
export { modelsDir, downloadPath, convertedPaths, safeJoin, sha256File } from './store.js';
export { modelCost, type Cost } from './cost.js';
