// Attention over a simulated KV cache, as two onnxruntime graphs with the cache in between:
//   projections: q/k/v from the normed rows, RoPE on q and k (k also returned before RoPE)
//   attention:   scores read each key in full precision or from its stored (dequantized) copy as a
//                0/1 mask says per (query, key); likewise the values; then softmax, context, o_proj.
// With every mask entry 1 this is attention.ts's computation.
import { ropeNodes, type AttentionShape } from './attention.js';
import { buildGraph, type GraphConstant, type GraphNode } from './onnx-graph.js';
import { cachedSession, tensor } from './session.js';

function projectionGraph(s: AttentionShape): Uint8Array {
  const { hidden: d, heads: nh, kvHeads: nkv, headDim: hd, seq: T } = s;
  const constants: GraphConstant[] = [
    { name: 'split_qkv', dims: [3], int64: [nh * hd, nkv * hd, nkv * hd] },
    { name: 'split_half', dims: [2], int64: [hd / 2, hd / 2] },
    { name: 'shape_q', dims: [4], int64: [-1, T, nh, hd] },
    { name: 'shape_kv', dims: [4], int64: [-1, T, nkv, hd] },
    { name: 'cos', dims: [T, hd], float: s.cos },
    { name: 'sin', dims: [T, hd], float: s.sin },
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
  ];
  return buildGraph(
    'gqa_projections',
    [
      { name: 'h', dims: ['n', d] },
      { name: 'wqkv', dims: [(nh + 2 * nkv) * hd, d] },
    ],
    [
      { name: 'qt_r', dims: ['b', nh, T, hd] },
      { name: 'kt', dims: ['b', nkv, T, hd] },
      { name: 'kt_r', dims: ['b', nkv, T, hd] },
      { name: 'vt', dims: ['b', nkv, T, hd] },
    ],
    nodes,
    constants,
  );
}

function cachedAttentionGraph(s: AttentionShape): Uint8Array {
  const { hidden: d, heads: nh, kvHeads: nkv, headDim: hd, seq: T } = s;
  const rep = nh / nkv;
  const causal = new Float32Array(rep * T * T);
  for (let r = 0; r < rep * T; r++) for (let c = (r % T) + 1; c < T; c++) causal[r * T + c] = -Infinity;
  const constants: GraphConstant[] = [
    { name: 'shape_group', dims: [4], int64: [-1, nkv, rep * T, hd] },
    { name: 'shape_heads', dims: [4], int64: [-1, nh, T, hd] },
    { name: 'shape_rows', dims: [2], int64: [-1, nh * hd] },
    { name: 'scale', dims: [], float: new Float32Array([1 / Math.sqrt(hd)]) },
    { name: 'causal', dims: [rep * T, T], float: causal },
  ];
  const kvBlock = (name: string) => ({ name, dims: ['b', nkv, T, hd] });
  const nodes: GraphNode[] = [
    { op: 'Mul', inputs: ['q', 'scale'], outputs: ['qs'] },
    { op: 'Reshape', inputs: ['qs', 'shape_group'], outputs: ['qg'] },
    { op: 'Transpose', inputs: ['k_full'], outputs: ['kfT'], intsAttrs: { perm: [0, 1, 3, 2] } },
    { op: 'Transpose', inputs: ['k_stored'], outputs: ['ksT'], intsAttrs: { perm: [0, 1, 3, 2] } },
    { op: 'MatMul', inputs: ['qg', 'kfT'], outputs: ['scores_full'] },
    { op: 'MatMul', inputs: ['qg', 'ksT'], outputs: ['scores_stored'] },
    { op: 'Cast', inputs: ['key_full_mask'], outputs: ['key_full'], intAttrs: { to: 9 } },
    { op: 'Where', inputs: ['key_full', 'scores_full', 'scores_stored'], outputs: ['scores'] },
    { op: 'Add', inputs: ['scores', 'causal'], outputs: ['masked'] },
    { op: 'Softmax', inputs: ['masked'], outputs: ['probs'], intAttrs: { axis: -1 } },
    { op: 'Mul', inputs: ['probs', 'value_full_mask'], outputs: ['probs_full'] },
    { op: 'Sub', inputs: ['probs', 'probs_full'], outputs: ['probs_stored'] },
    { op: 'MatMul', inputs: ['probs_full', 'v_full'], outputs: ['ctx_full'] },
    { op: 'MatMul', inputs: ['probs_stored', 'v_stored'], outputs: ['ctx_stored'] },
    { op: 'Add', inputs: ['ctx_full', 'ctx_stored'], outputs: ['ctx'] },
    { op: 'Reshape', inputs: ['ctx', 'shape_heads'], outputs: ['ctx4'] },
    { op: 'Transpose', inputs: ['ctx4'], outputs: ['ctxt'], intsAttrs: { perm: [0, 2, 1, 3] } },
    { op: 'Reshape', inputs: ['ctxt', 'shape_rows'], outputs: ['attn'] },
    { op: 'Gemm', inputs: ['attn', 'wo'], outputs: ['out'], intAttrs: { transB: 1 } },
  ];
  return buildGraph(
    'gqa_cached_attention',
    [
      { name: 'q', dims: ['b', nh, T, hd] },
      kvBlock('k_full'),
      kvBlock('k_stored'),
      kvBlock('v_full'),
      kvBlock('v_stored'),
      { name: 'key_full_mask', dims: [rep * T, T] },
      { name: 'value_full_mask', dims: [rep * T, T] },
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

const shapeKey = (s: AttentionShape) => `${s.hidden}:${s.heads}:${s.kvHeads}:${s.headDim}:${s.seq}`;

export interface Projections {
  /** [batch, heads, seq, headDim], after RoPE. */
  queries: Float32Array;
  /** [batch, kvHeads, seq, headDim] before and after RoPE. */
  keysPreRope: Float32Array;
  keys: Float32Array;
  values: Float32Array;
}

export async function projectQkv(shape: AttentionShape, h: Float32Array, rows: number, wqkv: Float32Array): Promise<Projections> {
  const session = await cachedSession(`projections:${shapeKey(shape)}`, () => projectionGraph(shape));
  const { hidden: d, heads: nh, kvHeads: nkv, headDim: hd } = shape;
  const out = await session.run({ h: tensor(h, [rows, d]), wqkv: tensor(wqkv, [(nh + 2 * nkv) * hd, d]) });
  return { queries: out.qt_r.data as Float32Array, keysPreRope: out.kt.data as Float32Array, keys: out.kt_r.data as Float32Array, values: out.vt.data as Float32Array };
}

export interface CachedAttentionInput {
  projections: Projections;
  storedKeys: Float32Array;
  storedValues: Float32Array;
  /** [rep·seq, seq] 0/1 masks from kv-cache/precision-masks.ts. */
  keyFullMask: Float32Array;
  valueFullMask: Float32Array;
  wo: Float32Array;
}

export async function cachedAttention(shape: AttentionShape, batch: number, input: CachedAttentionInput): Promise<{ context: Float32Array; output: Float32Array }> {
  const session = await cachedSession(`cached-attention:${shapeKey(shape)}`, () => cachedAttentionGraph(shape));
  const { hidden: d, heads: nh, kvHeads: nkv, headDim: hd, seq: T } = shape;
  const rep = nh / nkv;
  const kv = [batch, nkv, T, hd];
  const out = await session.run({
    q: tensor(input.projections.queries, [batch, nh, T, hd]),
    k_full: tensor(input.projections.keys, kv),
    k_stored: tensor(input.storedKeys, kv),
    v_full: tensor(input.projections.values, kv),
    v_stored: tensor(input.storedValues, kv),
    key_full_mask: tensor(input.keyFullMask, [rep * T, T]),
    value_full_mask: tensor(input.valueFullMask, [rep * T, T]),
    wo: tensor(input.wo, [d, nh * hd]),
  });
  return { context: out.attn.data as Float32Array, output: out.out.data as Float32Array };
}
