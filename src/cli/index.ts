// The CLI's entry (bin/edgefit.js loads it); only re-exports.
export { main } from './main.js';
