export type { Family, InputFormat, ModelCard, Precision, Variant } from '../types/model.js';
