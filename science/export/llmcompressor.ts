// llmcompressor: an llm-compressor 0.14 recipe (plain YAML) that quantizes the original model the
// way the recipe did: a QuantizationModifier (round-to-nearest), a GPTQModifier (GPTQ) or an
// AutoRoundModifier (AutoRound) with one config group per distinct spec. Field names as llm-compressor
// 0.14.0.1 and compressed-tensors 0.19 read them: modifiers/quantization/quantization/mixin.py
// (config_groups, ignore, kv_cache_scheme), modifiers/gptq/base.py (block_size, dampening_frac,
// actorder), modifiers/autoround/base.py (iters, lr), quantization/quant_args.py
// (num_bits, type, symmetric, strategy, group_size, dynamic). Targets are `re:` regexes matched with
// re.match (utils/match.py: match_name), anchored here so each module matches exactly one target.
import { stringify } from 'yaml';
import type { ExportedFile, Exporter } from './export-format.js';
import { ExportRefusedError } from './errors.js';
import { moduleRegex } from './hf-names.js';
import { readQuantizedModel, specKey, type QuantizedModelView } from './modules.js';
import { groupRules, type RuleUnit } from './rules.js';
import { refuseExpertReduction, singleMethod } from './text-limits.js';
import { kvCacheTypes } from './kv-cache-flags.js';
import { autoRoundLearningRate, type QuantSpec, type Recipe } from '../../schema/recipe.js';

export const LLMCOMPRESSOR_FILE = 'recipe.yaml';
export const LLMCOMPRESSOR_STAGE = 'quant_stage';
export const LLMCOMPRESSOR_GROUP = 'quant_modifiers';

/** Rule kinds in model order: targets are listed by this, then by first layer. */
export const LLMCOMPRESSOR_RULE_ORDER = ['embed', 'q', 'k', 'v', 'o', 'router', 'gate', 'up', 'down', 'lm_head'] as const;

export interface WeightArgs {
  num_bits: number;
  type: 'int' | 'float';
  symmetric: boolean;
  strategy: 'channel' | 'group';
  group_size?: number;
}

export interface ActivationArgs {
  num_bits: 8;
  type: 'int' | 'float';
  symmetric: true;
  strategy: 'token' | 'tensor';
  dynamic: boolean;
}

export interface ConfigGroup {
  targets: string[];
  weights: WeightArgs;
  input_activations: ActivationArgs | null;
  output_activations: null;
}

export interface QuantModifierArgs {
  iters?: number;
  lr?: number;
  block_size?: number;
  dampening_frac?: number;
  actorder?: 'static' | null;
  ignore: string[];
  config_groups: Record<string, ConfigGroup>;
  kv_cache_scheme?: ActivationArgs;
}

export type LlmCompressorRecipe = Record<string, Record<string, Partial<Record<'QuantizationModifier' | 'GPTQModifier' | 'AutoRoundModifier', QuantModifierArgs>>>>;

export function weightArgs(spec: QuantSpec): WeightArgs {
  const float = spec.format === 'fp8';
  const w: WeightArgs = { num_bits: spec.bits, type: float ? 'float' : 'int', symmetric: float || spec.symmetric, strategy: spec.groupSize === 'channel' ? 'channel' : 'group' };
  if (spec.groupSize !== 'channel') w.group_size = spec.groupSize;
  return w;
}

/** Dynamic per-token activation quantization for W8A8 recipes (what vLLM's fp8/int8 W8A8 paths run). */
function activationArgs(recipe: Recipe): ActivationArgs | null {
  if (recipe.activations === 'bf16') return null;
  return { num_bits: 8, type: recipe.activations === 'fp8' ? 'float' : 'int', symmetric: true, strategy: 'token', dynamic: true };
}

export function llmCompressorRecipe(view: QuantizedModelView): LlmCompressorRecipe {
  const format = 'llmcompressor';
  refuseExpertReduction(format, view.recipe);
  const method = singleMethod(format, view.modules);
  if (method.kind === 'awq') {
    throw new ExportRefusedError(`${format}: AWQModifier searches its own smoothing scales over its own layer mappings, not evoquant's; export AWQ recipes as compressed-tensors`);
  }
  if (method.kind === 'autoround' && !method.minMax) {
    // auto-round tunes each group's min/max by default (enable_minmax_tuning) and AutoRoundModifier
    // has no field to turn it off.
    throw new ExportRefusedError(`${format}: AutoRoundModifier always learns the min/max factors; the recipe's AutoRound has minMax off`);
  }
  const units: RuleUnit<QuantSpec>[] = view.modules.map((m) => ({ kind: m.projection, layer: m.layer, key: specKey(m.spec), value: m.spec }));
  const ignore: string[] = [];
  const groups = new Map<string, ConfigGroup>();
  const input = activationArgs(view.recipe);
  for (const rule of groupRules(units, LLMCOMPRESSOR_RULE_ORDER)) {
    const target = `re:${moduleRegex(rule.kind as (typeof LLMCOMPRESSOR_RULE_ORDER)[number], rule.layers)}`;
    if (rule.value.bits === 16) {
      ignore.push(target);
      continue;
    }
    const group = groups.get(rule.key) ?? { targets: [], weights: weightArgs(rule.value), input_activations: input, output_activations: null };
    group.targets.push(target);
    groups.set(rule.key, group);
  }
  const config_groups = Object.fromEntries([...groups.values()].map((g, i) => [`group_${i}`, g]));
  const args: QuantModifierArgs = { ignore, config_groups };
  // fp8 e4m3 is calibrated into the checkpoint's kv_cache_scheme (k_scale / v_scale); vLLM takes
  // fp8_e5m2 only from a checkpoint without one (model_executor/layers/attention/attention.py), as
  // a serving flag: an e5m2 recipe exports no scheme.
  const kv = kvCacheTypes(format, 'vllm', view.recipe.kvCache);
  if (kv && view.recipe.kvCache?.keys.format === 'fp8_e4m3') args.kv_cache_scheme = { num_bits: 8, type: 'float', symmetric: true, strategy: 'tensor', dynamic: false };
  if (method.kind === 'gptq') {
    // actorder is set on the modifier: its default ("static") would otherwise apply to every group.
    const gptq: QuantModifierArgs = { block_size: method.blockSize, dampening_frac: method.damp, actorder: method.actOrder ? 'static' : null, ...args };
    return { [LLMCOMPRESSOR_STAGE]: { [LLMCOMPRESSOR_GROUP]: { GPTQModifier: gptq } } };
  }
  if (method.kind === 'autoround') {
    // The same signed-gradient search of rounding offsets and min/max factors, with the same steps and
    // step size (lr is written out: auto-round's own default doubles it for ≤ 3 bits at ≥ 1000 steps).
    // AutoRoundModifier reconstructs each decoder layer's output where evoquant's reference executor
    // reconstructs each linear layer's, so its codes will differ; the stored form does not.
    const autoround: QuantModifierArgs = { iters: method.iterations, lr: autoRoundLearningRate(method), ...args };
    return { [LLMCOMPRESSOR_STAGE]: { [LLMCOMPRESSOR_GROUP]: { AutoRoundModifier: autoround } } };
  }
  return { [LLMCOMPRESSOR_STAGE]: { [LLMCOMPRESSOR_GROUP]: { QuantizationModifier: args } } };
}

export const exportLlmCompressor: Exporter = (request): ExportedFile[] => {
  const recipe = llmCompressorRecipe(readQuantizedModel(request.quantizedDir));
  // Plain YAML: no tags, no anchors/aliases (shared objects are written out in full).
  const text = stringify(recipe, { aliasDuplicateObjects: false, lineWidth: 0 });
  return [{ path: LLMCOMPRESSOR_FILE, bytes: new TextEncoder().encode(text) }];
};
