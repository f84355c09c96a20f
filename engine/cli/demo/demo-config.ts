// The demo's evolution: the headline target (Qwen3-235B-A22B on one server with 2×A100-80GB),
// measured on the committed proxy with the CPU reference executor. The target names no stack, so it
// is vLLM's (the default): every seed is servable there, and the proposer keeps its children so.
import { EvolutionConfig } from '../../../schema/evolution-config.js';

export const DEMO_CONFIG: EvolutionConfig = EvolutionConfig.parse({
  name: 'demo-qwen3-235b-2xa100',
  target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2, context: 4096, batch: 1 },
  pool: 'cpu',
  proxy: 'artifacts/proxy',
  generations: 4,
  populationSize: 4,
  seed: 7,
  // bf16 is servable but cannot fit: compile rejects it before any GPU time. The MoE seed gives
  // experts bits per layer (ranked by measured sensitivity), the form vLLM's fused MoE serves.
  seedRecipes: ['bf16', 'w4a16-g128-rtn', 'moe-layers-sensitive4-rest3'],
  evaluation: { tokens: 4096, calibrationTokens: 2048 },
});
