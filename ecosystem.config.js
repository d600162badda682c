// PM2 reads `apps` from this file with require(); on Node >= 20.19 that loads ES modules like this one.
// Older Node: `pm2 start ecosystem.config.cjs` (the same settings, CommonJS).
import { createRequire } from 'node:module';

const cjs = createRequire(import.meta.url)('./ecosystem.config.cjs');

export const apps = cjs.apps;
export const DRAIN_MS = cjs.DRAIN_MS;
export default { apps };
