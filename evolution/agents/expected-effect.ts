// What a step is expected to do to memory and to loss before anything is measured: the direction
// each operator moves them by construction (more bits cost memory and save loss; error compensation
// and activation-aware scaling change only how the same bits are rounded). Measured means replace
// the prior's direction once the graph holds evidence.
import type { EvolutionPattern } from '../../schema/innovation.js';
import type { ExpectedEffect } from '../../schema/agents.js';

type Direction = ExpectedEffect['direction'];

const OPERATOR_PRIOR: Record<string, { memory: Direction; loss: Direction }> = {
  gptq: { memory: 'same', loss: 'less' },
  awq: { memory: 'same', loss: 'less' },
  'lower-bits': { memory: 'less', loss: 'more' },
  'group-size': { memory: 'more', loss: 'less' },
  'outlier-retention': { memory: 'more', loss: 'less' },
  'hadamard-rotation': { memory: 'same', loss: 'less' },
  'expert-tiers-frequency': { memory: 'less', loss: 'more' },
  'expert-tiers-sensitivity': { memory: 'less', loss: 'more' },
  'expert-layer-tiers': { memory: 'less', loss: 'more' },
  'attention-precision': { memory: 'more', loss: 'less' },
  'edge-layer-protection': { memory: 'more', loss: 'less' },
  'kv-cache-8bit': { memory: 'less', loss: 'more' },
  'kv-kivi': { memory: 'less', loss: 'more' },
  'kv-lower-bits': { memory: 'less', loss: 'more' },
  'kv-recent-window': { memory: 'more', loss: 'less' },
  'kv-attention-sinks': { memory: 'more', loss: 'less' },
  'kv-pre-rope-keys': { memory: 'same', loss: 'less' },
  'kv-hadamard-keys': { memory: 'same', loss: 'less' },
  'kv-protect-layers': { memory: 'more', loss: 'less' },
  'expert-pruning': { memory: 'less', loss: 'more' },
  'expert-merging': { memory: 'less', loss: 'more' },
};

const PATTERN_PRIOR: Record<EvolutionPattern, { memory: Direction; loss: Direction }> = {
  'error-compensation': { memory: 'same', loss: 'less' },
  'activation-awareness': { memory: 'same', loss: 'less' },
  'outlier-isolation': { memory: 'more', loss: 'less' },
  'rotation-incoherence': { memory: 'same', loss: 'less' },
  'mixed-precision-sensitivity-routing': { memory: 'less', loss: 'more' },
  'learned-rounding': { memory: 'same', loss: 'less' },
  'balanced-calibration': { memory: 'same', loss: 'less' },
  'pruning-merging': { memory: 'less', loss: 'more' },
};

/** Below these a measured mean is no change: 1 MB per GPU, 1e-5 bits per byte. */
const SAME_GB = 1e-3;
const SAME_KL = 1e-5;

function direction(mean: number, same: number): Direction {
  return Math.abs(mean) < same ? 'same' : mean < 0 ? 'less' : 'more';
}

export function expectedEffects(
  operator: string,
  pattern: EvolutionPattern,
  measured: { meanGbDelta: number | null; meanKlDelta: number | null },
): { memory: ExpectedEffect; loss: ExpectedEffect } {
  const prior = OPERATOR_PRIOR[operator] ?? PATTERN_PRIOR[pattern];
  return {
    memory: { direction: measured.meanGbDelta === null ? prior.memory : direction(measured.meanGbDelta, SAME_GB), measuredMean: measured.meanGbDelta },
    loss: { direction: measured.meanKlDelta === null ? prior.loss : direction(measured.meanKlDelta, SAME_KL), measuredMean: measured.meanKlDelta },
  };
}
