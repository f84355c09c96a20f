// The dense long-context target of issue 10: Llama-3.1-70B at its full 131,072-token context on
// 2×A100-80GB (TP2), batch 1, on vLLM; and the same at batch 8, the budget that forces the KV cache
// to 4 bits or below once the weights are 4-bit.
import type { CompileTargetInput } from '../../science/physics/compile.js';

export const LONG_CONTEXT = 131_072;

export const LONG_CONTEXT_TARGET = {
  model: 'llama-3.1-70b',
  hardware: 'a100-80gb',
  gpus: 2,
  tensorParallel: 2,
  contextLength: LONG_CONTEXT,
  batch: 1,
  stack: 'vllm',
} as const satisfies CompileTargetInput;

export const LONG_CONTEXT_BATCH8_TARGET = { ...LONG_CONTEXT_TARGET, batch: 8 } as const satisfies CompileTargetInput;
