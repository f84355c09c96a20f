// The search benchmark's fixed setting: one proxy, one target, one stack, one evaluation recipe and
// one budget for every method, so that the methods differ only in how they choose what to evaluate.
import type { EvolutionTarget } from '../../schema/evolution-config.js';

/** The hard regime of issue 8: Qwen3-235B-A22B on one A100-80GB, served by vLLM at 4k context. */
export const TARGET: EvolutionTarget = { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 1, tensorParallel: 1, context: 4096, batch: 1, stack: 'vllm' };
export const TARGET_LABEL = 'Qwen3-235B-A22B on 1×A100-80GB (vLLM, 4k context)';

/** The committed trained proxy MoE, relative to the repository root. */
export const PROXY = 'artifacts/proxy';

/**
 * Held-out bytes predicted and calibration tokens per candidate: small enough that 5 seeds × 4
 * methods × the budget fit in about 25 minutes on a 2-core machine, the same for every method.
 */
export const EVALUATION = { tokens: 2048, calibrationTokens: 1024 } as const;

/**
 * The engine's generation 0. Only w2a16-g64-rtn fits one A100 (72.2 GB); the other two are the usual
 * baselines that compile refuses there (127.0 and 108.9 GB), so the engine has to search its way down.
 */
export const SEED_RECIPES = ['w4a16-g128-rtn', 'w2a16-g64-rtn', 'moe-layers-sensitive4-rest3'] as const;

/** Children per engine generation. */
export const POPULATION_SIZE = 4;

/** 9 = the engine's one fitting seed + two generations of 4: no evaluation past the budget is wasted. */
export const DEFAULTS = { seeds: 5, budget: 9 } as const;

export const METHODS = ['graph', 'ablated', 'random', 'tpe'] as const;
export type Method = (typeof METHODS)[number];
export const METHOD_LABELS: Record<Method, string> = {
  graph: 'engine, graph-guided agents',
  ablated: 'engine, graph ablated',
  random: 'random search',
  tpe: 'Optuna TPE',
};

/** Samples a non-engine method may draw per evaluation before it gives up (compile refusals are free). */
export const MAX_DRAWS_PER_EVALUATION = 40;
