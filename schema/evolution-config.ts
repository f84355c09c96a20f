// The configuration a person starts an evolution with (`evoquant start --config file.yaml`).
import { z } from 'zod';
import { AgentsConfig, DEFAULT_AGENTS } from './agents.js';
import { Recipe } from './recipe.js';
import { ServingStackId } from './serving-stack.js';
import { CheckpointModel } from './torch-executor.js';

/** Linux's PATH_MAX: no real path is longer. */
const PATH_MAX = 4096;
/** Each seed recipe is compiled on the target before the start (about 0.1 s each for a 235B MoE). */
export const MAX_SEED_RECIPES = 64;

export const EvaluationPool = z
  .string()
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'pool must be a GPU class such as a100-80gb, or cpu');

export const EvolutionTarget = z
  .object({
    /** Builtin model name or path to a HF config.json. */
    model: z.string().min(1).max(PATH_MAX),
    /** Hardware profile name (a100-80gb, h100-80gb, …). */
    hardware: z.string().min(1).max(64),
    gpus: z.number().int().min(1).max(64),
    tensorParallel: z.number().int().min(1).max(64).optional(),
    context: z.number().int().min(1).max(1_048_576).default(4096),
    batch: z.number().int().min(1).max(4096).default(1),
    /** Serving stack whose rules every candidate must respect; absent means vllm (DEFAULT_STACK). */
    stack: ServingStackId.optional(),
  })
  .strict();
export type EvolutionTarget = z.infer<typeof EvolutionTarget>;

export const EvolutionConfig = z
  .object({
    name: z.string().min(1).max(120).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'name may hold letters, digits, ".", "_" and "-"'),
    target: EvolutionTarget,
    /** Where quantize/evaluate run; defaults to the target's hardware class. */
    pool: EvaluationPool.optional(),
    /** Evaluations in flight at once (default: the whole population; the pool's worker slots throttle the rest). */
    poolCapacity: z.number().int().min(1).max(1024).optional(),
    /** Directory of the proxy model, relative to the repository (or absolute). */
    proxy: z.string().min(1).max(PATH_MAX).default('artifacts/proxy'),
    generations: z.number().int().min(1).max(10_000).default(4),
    populationSize: z.number().int().min(1).max(256).default(6),
    seed: z.number().int().min(0).default(1),
    /** Recipes of generation 0: builtin names or inline recipes. */
    seedRecipes: z.array(z.union([z.string().min(1).max(120), Recipe])).min(1).max(MAX_SEED_RECIPES).default(['w4a16-g128-rtn', 'w4a16-g128-gptq', 'moe-layers-sensitive4-rest3']),
    selection: z.enum(['tournament', 'pareto']).default('pareto'),
    /** The agents that reason over the knowledge graph (schema/agents.ts). */
    agents: AgentsConfig.default(DEFAULT_AGENTS),
    evaluation: z
      .object({
        tokens: z.number().int().min(128).max(1_000_000).default(8192),
        calibrationTokens: z.number().int().min(128).max(1_000_000).default(4096),
        /** A GPU worker silent this long is presumed dead and its task retried elsewhere. */
        heartbeatSeconds: z.number().int().min(1).max(600).default(10),
        /** Attempts per quantize/evaluate before the candidate is recorded as failed. */
        maxAttempts: z.number().int().min(1).max(100).default(5),
        /**
         * A real Hugging Face checkpoint the candidates are quantized and measured on by the torch
         * executor (a fidelity step after the proxy), with its calibration and evaluation text.
         * Absent: the proxy, on the reference executor.
         */
        model: CheckpointModel.optional(),
      })
      .strict()
      .default({ tokens: 8192, calibrationTokens: 4096, heartbeatSeconds: 10, maxAttempts: 5 }),
    /** Stop once this many candidates were evaluated (evolution-wide). */
    maxCandidates: z.number().int().min(1).optional(),
  })
  .strict();
export type EvolutionConfig = z.infer<typeof EvolutionConfig>;
export type EvolutionConfigInput = z.input<typeof EvolutionConfig>;
