// onnx-proto ships protobufjs static code for onnx.proto (ONNX v1.10, IR version 8).
import onnxProto from 'onnx-proto';
import type { onnx as O } from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type ModelProto = O.IModelProto;
export type GraphProto = O.IGraphProto;
export type NodeProto = O.INodeProto;
export type TensorProto = O.ITensorProto;
export type AttributeProto = O.IAttributeProto;
export type ValueInfoProto = O.IValueInfoProto;

/** onnx.TensorProto.DataType values we use. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  FLOAT16: 10,
} as const;
export type DataTypeValue = (typeof DataType)[keyof typeof DataType];
