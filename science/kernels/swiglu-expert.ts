// One SwiGLU expert as an onnxruntime graph: down(silu(gate·x) ⊙ up·x), with gate and up in one GEMM.
import { buildGraph } from './onnx-graph.js';
import { cachedSession, tensor } from './session.js';

function expertGraph(d: number, f: number): Uint8Array {
  return buildGraph(
    'swiglu_expert',
    [
      { name: 'x', dims: ['m', d] },
      { name: 'wgu', dims: [2 * f, d] },
      { name: 'wd', dims: [d, f] },
    ],
    [
      { name: 'act', dims: ['m', f] },
      { name: 'y', dims: ['m', d] },
    ],
    [
      { op: 'Gemm', inputs: ['x', 'wgu'], outputs: ['gu'], intAttrs: { transB: 1 } },
      { op: 'Split', inputs: ['gu', 'split'], outputs: ['g', 'u'], intAttrs: { axis: 1 } },
      { op: 'Sigmoid', inputs: ['g'], outputs: ['sg'] },
      { op: 'Mul', inputs: ['g', 'sg'], outputs: ['silu'] },
      { op: 'Mul', inputs: ['silu', 'u'], outputs: ['act'] },
      { op: 'Gemm', inputs: ['act', 'wd'], outputs: ['y'], intAttrs: { transB: 1 } },
    ],
    [{ name: 'split', dims: [2], int64: [f, f] }],
  );
}

export interface ExpertResult {
  /** Input of down_proj [m, f]. */
  hidden: Float32Array;
  /** Expert output [m, d]. */
  output: Float32Array;
}

/** Runs one expert on m rows; `gateUp` is [gate; up] stacked as [2f, d], `down` is [d, f]. */
export async function swigluExpert(x: Float32Array, m: number, d: number, f: number, gateUp: Float32Array, down: Float32Array): Promise<ExpertResult> {
  const session = await cachedSession(`expert:${d}:${f}`, () => expertGraph(d, f));
  const out = await session.run({ x: tensor(x, [m, d]), wgu: tensor(gateUp, [2 * f, d]), wd: tensor(down, [d, f]) });
  return { hidden: out.act.data as Float32Array, output: out.y.data as Float32Array };
}
