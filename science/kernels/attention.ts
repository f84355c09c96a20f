// Causal grouped-query attention with RoPE as one onnxruntime graph: qkv projection, rotary
// embedding, masked softmax, context and o_proj, without JavaScript layout loops in between.
import { buildGraph, type GraphConstant, type GraphNode } from './onnx-graph.js';
import { cachedSession, tensor } from './session.js';

export interface AttentionShape {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  seq: number;
  /** cos / sin tables [seq, headDim] (HF layout). */
  cos: Float32Array;
  sin: Float32Array;
}

/**
 * RoPE on a [batch, heads, seq, headDim] tensor named x, as HF computes it: x·cos + rotate_half(x)·sin,
 * with the graph constants split_half, cos and sin. The result is named `${x}_r`.
 */
export function ropeNodes(x: string): GraphNode[] {
  return [
    { op: 'Split', inputs: [x, 'split_half'], outputs: [`${x}_1`, `${x}_2`], intAttrs: { axis: 3 } },
    { op: 'Neg', inputs: [`${x}_2`], outputs: [`${x}_2n`] },
    { op: 'Concat', inputs: [`${x}_2n`, `${x}_1`], outputs: [`${x}_rot`], intAttrs: { axis: 3 } },
    { op: 'Mul', inputs: [x, 'cos'], outputs: [`${x}_c`] },
    { op: 'Mul', inputs: [`${x}_rot`, 'sin'], outputs: [`${x}_s`] },
    { op: 'Add', inputs: [`${x}_c`, `${x}_s`], outputs: [`${x}_r`] },
  ];
}

function attentionGraph(s: AttentionShape): Uint8Array {
  const { hidden: d, heads: nh, kvHeads: nkv, headDim: hd, seq: T } = s;
  const rep = nh / nkv;
  const half = hd / 2;
  const mask = new Float32Array(rep * T * T);
  for (let r = 0; r < rep * T; r++) for (let c = (r % T) + 1; c < T; c++) mask[r * T + c] = -Infinity;
  const constants: GraphConstant[] = [
    { name: 'split_qkv', dims: [3], int64: [nh * hd, nkv * hd, nkv * hd] },
    { name: 'split_half', dims: [2], int64: [half, half] },
    { name: 'shape_q', dims: [4], int64: [-1, T, nh, hd] },
    { name: 'shape_kv', dims: [4], int64: [-1, T, nkv, hd] },
    { name: 'shape_group', dims: [4], int64: [-1, nkv, rep * T, hd] },
    { name: 'shape_heads', dims: [4], int64: [-1, nh, T, hd] },
    { name: 'shape_rows', dims: [2], int64: [-1, nh * hd] },
    { name: 'scale', dims: [], float: new Float32Array([1 / Math.sqrt(hd)]) },
    { name: 'cos', dims: [T, hd], float: s.cos },
    { name: 'sin', dims: [T, hd], float: s.sin },
    { name: 'mask', dims: [rep * T, T], float: mask },
  ];
  const nodes: GraphNode[] = [
    { op: 'Gemm', inputs: ['h', 'wqkv'], outputs: ['qkv'], intAttrs: { transB: 1 } },
    { op: 'Split', inputs: ['qkv', 'split_qkv'], outputs: ['q', 'k', 'v'], intAttrs: { axis: 1 } },
    { op: 'Reshape', inputs: ['q', 'shape_q'], outputs: ['q4'] },
    { op: 'Transpose', inputs: ['q4'], outputs: ['qt'], intsAttrs: { perm: [0, 2, 1, 3] } },
    { op: 'Reshape', inputs: ['k', 'shape_kv'], outputs: ['k4'] },
    { op: 'Transpose', inputs: ['k4'], outputs: ['kt'], intsAttrs: { perm: [0, 2, 1, 3] } },
    { op: 'Reshape', inputs: ['v', 'shape_kv'], outputs: ['v4'] },
    { op: 'Transpose', inputs: ['v4'], outputs: ['vt'], intsAttrs: { perm: [0, 2, 1, 3] } },
    ...ropeNodes('qt'),
    ...ropeNodes('kt'),
    // Query heads sharing a KV head are adjacent, so they stack into one [rep*T, hd] block per KV head.
    { op: 'Mul', inputs: ['qt_r', 'scale'], outputs: ['qs'] },
    { op: 'Reshape', inputs: ['qs', 'shape_group'], outputs: ['qg'] },
    { op: 'Transpose', inputs: ['kt_r'], outputs: ['kT'], intsAttrs: { perm: [0, 1, 3, 2] } },
    { op: 'MatMul', inputs: ['qg', 'kT'], outputs: ['scores'] },
    { op: 'Add', inputs: ['scores', 'mask'], outputs: ['masked'] },
    { op: 'Softmax', inputs: ['masked'], outputs: ['probs'], intAttrs: { axis: -1 } },
    { op: 'MatMul', inputs: ['probs', 'vt'], outputs: ['ctx'] },
    { op: 'Reshape', inputs: ['ctx', 'shape_heads'], outputs: ['ctx4'] },
    { op: 'Transpose', inputs: ['ctx4'], outputs: ['ctxt'], intsAttrs: { perm: [0, 2, 1, 3] } },
    { op: 'Reshape', inputs: ['ctxt', 'shape_rows'], outputs: ['attn'] },
    { op: 'Gemm', inputs: ['attn', 'wo'], outputs: ['out'], intAttrs: { transB: 1 } },
  ];
  return buildGraph(
    'gqa_attention',
    [
      { name: 'h', dims: ['n', d] },
      { name: 'wqkv', dims: [(nh + 2 * nkv) * hd, d] },
      { name: 'wo', dims: [d, nh * hd] },
    ],
    [
      { name: 'attn', dims: ['n', nh * hd] },
      { name: 'out', dims: ['n', d] },
    ],
    nodes,
    constants,
  );
}

export interface AttentionResult {
  /** Per-head context before o_proj [n, heads*headDim]: the input o_proj calibrates on. */
  context: Float32Array;
  /** o_proj output [n, hidden], to add to the residual stream. */
  output: Float32Array;
}

/** Attention over rows [batch*seq, hidden] (already normalised) for sequences of `shape.seq` tokens. */
export async function attention(shape: AttentionShape, h: Float32Array, rows: number, wqkv: Float32Array, wo: Float32Array): Promise<AttentionResult> {
  const key = `attention:${shape.hidden}:${shape.heads}:${shape.kvHeads}:${shape.headDim}:${shape.seq}`;
  const session = await cachedSession(key, () => attentionGraph(shape));
  const { hidden: d, heads: nh, kvHeads: nkv, headDim: hd } = shape;
  const out = await session.run({
    h: tensor(h, [rows, d]),
    wqkv: tensor(wqkv, [(nh + 2 * nkv) * hd, d]),
    wo: tensor(wo, [d, nh * hd]),
  });
  return { context: out.attn.data as Float32Array, output: out.out.data as Float32Array };
}
