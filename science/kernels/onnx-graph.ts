// Builds tiny single-purpose ONNX graphs (one or two nodes) that onnxruntime runs as our CPU kernels.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

export interface GraphInput {
  name: string;
  /** Dimension sizes; strings are symbolic (dynamic) dimensions. */
  dims: Array<number | string>;
}

/** A constant baked into the graph (shapes, split sizes, rotary tables, masks). */
export interface GraphConstant {
  name: string;
  dims: number[];
  int64?: number[];
  float?: Float32Array;
}

export interface GraphNode {
  op: string;
  inputs: string[];
  outputs: string[];
  intAttrs?: Record<string, number>;
  intsAttrs?: Record<string, number[]>;
  floatAttrs?: Record<string, number>;
}

function valueInfo(input: GraphInput): onnxProto.onnx.IValueInfoProto {
  return {
    name: input.name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: input.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function initializer(c: GraphConstant): onnxProto.onnx.ITensorProto {
  if (c.int64) return { name: c.name, dims: c.dims, dataType: onnx.TensorProto.DataType.INT64, int64Data: c.int64 };
  if (c.float) return { name: c.name, dims: c.dims, dataType: FLOAT, rawData: new Uint8Array(c.float.buffer, c.float.byteOffset, c.float.byteLength) };
  throw new TypeError(`graph constant ${c.name} has no data`);
}

/** Serialises a float32 graph to ONNX model bytes (opset 17). */
export function buildGraph(name: string, inputs: GraphInput[], outputs: GraphInput[], nodes: GraphNode[], constants: GraphConstant[] = []): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'evoquant',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name,
      input: inputs.map(valueInfo),
      initializer: constants.map(initializer),
      output: outputs.map(valueInfo),
      node: nodes.map((n, i) => ({
        name: `${n.op}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: [
          ...Object.entries(n.intAttrs ?? {}).map(([k, v]) => ({ name: k, type: onnx.AttributeProto.AttributeType.INT, i: v })),
          ...Object.entries(n.intsAttrs ?? {}).map(([k, v]) => ({ name: k, type: onnx.AttributeProto.AttributeType.INTS, ints: v })),
          ...Object.entries(n.floatAttrs ?? {}).map(([k, v]) => ({ name: k, type: onnx.AttributeProto.AttributeType.FLOAT, f: v })),
        ],
      })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
