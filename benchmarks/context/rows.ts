// The context-that-fits rows: weights × KV policy on the long-context target, each compiled at
// 128k (batch 1 and 8) for memory and per stack for servability, and searched for the longest
// context that fits at each batch.
import { SERVING_STACKS, type ServingStackId } from '../../schema/serving-stack.js';
import { Recipe } from '../../schema/recipe.js';
import type { KvPolicy } from '../../schema/kv-policy.js';
import { compileTarget, type CompileTargetInput } from '../../science/physics/compile.js';
import { longestContextThatFits, type ContextFit } from '../../science/physics/context-fit.js';
import { builtinRecipe } from '../../science/recipes/builtin.js';
import { MANUAL_KV_POLICIES, type ManualKvPolicy } from '../../science/recipes/kv-policies.js';

/** Weight recipes of the table: bf16, int8 per channel, 4-bit GPTQ g128 (builtins). */
export const CONTEXT_WEIGHTS = ['bf16', 'w8a16', 'w4a16-g128-gptq'] as const;
/** The search's ceiling: 8× Llama-3.1-70B's max_position_embeddings. */
export const MAX_CONTEXT = 1_048_576;

export interface ContextFitRow {
  weights: string;
  kv: string;
  kvOrigin: string;
  /** Whole-model KV bytes per token far from the windows. */
  kvBytesPerToken: number;
  /** Fullest GPU's bytes at the target's context, batch 1 and 8. */
  gbPerGpu: { b1: number; b8: number };
  fits: { b1: boolean; b8: boolean };
  longest: { b1: ContextFit; b8: ContextFit };
  /** Stacks that serve the whole recipe (weights and KV) on the target's GPUs. */
  servedBy: ServingStackId[];
}

/** The recipe of one row: the weight builtin with the KV policy. */
export function rowRecipe(weights: string, kv: ManualKvPolicy): Recipe {
  const base = builtinRecipe(weights);
  if (!base) throw new Error(`no builtin recipe ${weights}`);
  const { kvCache: _none, ...rest } = base;
  return Recipe.parse({ ...rest, name: `${base.name}+${kv.name}`, ...(kv.policy ? { kvCache: kv.policy satisfies KvPolicy } : {}) });
}

const SERVING_VIOLATIONS = new Set(['not-servable', 'kernel-unsupported', 'shard-shape']);

export function contextFitRow(target: CompileTargetInput, weights: string, kv: ManualKvPolicy, maxContext = MAX_CONTEXT): ContextFitRow {
  const recipe = rowRecipe(weights, kv);
  const b1 = compileTarget({ ...target, batch: 1 }, recipe);
  const b8 = compileTarget({ ...target, batch: 8 }, recipe);
  const servedBy = SERVING_STACKS.filter((stack) => !compileTarget({ ...target, batch: 1, stack }, recipe).violations.some((v) => SERVING_VIOLATIONS.has(v.code)));
  const { contextLength: _c, ...searchTarget } = target;
  return {
    weights,
    kv: kv.name,
    kvOrigin: kv.origin,
    kvBytesPerToken: b1.kvCache.bytesPerToken,
    gbPerGpu: { b1: b1.perGpu.totalBytes / 1e9, b8: b8.perGpu.totalBytes / 1e9 },
    fits: { b1: b1.fits, b8: b8.fits },
    longest: { b1: longestContextThatFits({ ...searchTarget, batch: 1 }, recipe, maxContext), b8: longestContextThatFits({ ...searchTarget, batch: 8 }, recipe, maxContext) },
    servedBy,
  };
}

export function contextFitRows(target: CompileTargetInput, maxContext = MAX_CONTEXT): ContextFitRow[] {
  return CONTEXT_WEIGHTS.flatMap((w) => MANUAL_KV_POLICIES.map((kv) => contextFitRow(target, w, kv, maxContext)));
}
