// `node --import` this file: onnxruntime-node cannot be imported, as on a board without its binary (32-bit
// Raspberry Pi OS: onnxruntime-node 1.30 ships no linux/arm build). Passed on through NODE_OPTIONS, it reaches
// every child process the daemon starts (provider probe, profiler).
import { register } from 'node:module';

register('data:text/javascript,' + encodeURIComponent(`
export async function resolve(spec, ctx, next) {
  if (spec === 'onnxruntime-node' || spec.startsWith('onnxruntime-node/')) {
    throw Object.assign(new Error('Cannot find module onnxruntime_binding.node (no binary for this board)'), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return next(spec, ctx);
}`));
