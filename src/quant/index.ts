// The quantizer's public surface; only re-exports, so no module of src/quant imports this file.
export { quantizeModel, type QuantizeOptions, type QuantReport, type TensorRange, type WeightBits } from './quantize.js';
export type { CalibMethod } from './calibrate.js';
export { checkIntegerKernels, type KernelCheck } from './verify.js';
export { chooseWeightBits, type WeightBitsChoice } from './choose.js';
