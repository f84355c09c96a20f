// gptqmodel: a GPTQModel 7.x QuantizeConfig (JSON, the constructor's keyword names) for users who
// quantize the original model on their own GPUs. Field names as GPTQModel 7.7.0 reads them
// (gptqmodel/quantization/config.py: bits, group_size, sym, desc_act, lm_head, method, format,
// damp_percent, weight_only; GPTQConfig/RTNConfig). `dynamic` holds per-module overrides: regex keys
// matched with re.match in insertion order, first match wins, `-:` skips a module (keeps it bf16),
// `+:` overrides fields (_resolve_dynamic_override, dynamic_get). A layer's routed experts are
// addressed as the merged `…experts` module and everything below it, as vLLM loads them (README
// "Fused Modules in Inference Engines").
import type { ExportedFile, Exporter } from './export-format.js';
import { ExportRefusedError } from './errors.js';
import { moduleRegex } from './hf-names.js';
import { readQuantizedModel, specKey, type ExportModule, type QuantizedModelView } from './modules.js';
import { groupRules, uniformPerUnit, type RuleUnit } from './rules.js';
import { quantized, refuseExpertReduction, singleMethod } from './text-limits.js';
import type { QuantSpec } from '../../schema/recipe.js';

export const GPTQMODEL_FILE = 'quantize_config.json';

/** The per-module fields a dynamic rule overrides (gptq_processor.py reads these per module). */
export interface GptqOverride {
  bits: number;
  group_size: number;
  sym: boolean;
}

export interface GptqModelConfig {
  bits: number;
  group_size: number;
  sym: boolean;
  desc_act: boolean;
  method: 'gptq';
  format: 'gptq';
  lm_head: boolean;
  damp_percent?: number;
  weight_only?: { method: 'rtn' };
  dynamic: Record<string, GptqOverride | Record<string, never>>;
}

/** Rule kinds in model order: the rule list is sorted by this, then by first layer. */
export const GPTQMODEL_RULE_ORDER = ['q', 'k', 'v', 'o', 'router', 'experts', 'lm_head'] as const;

export function gptqOverride(spec: QuantSpec): GptqOverride {
  return { bits: spec.bits, group_size: spec.groupSize === 'channel' ? -1 : spec.groupSize, sym: spec.symmetric };
}

/** The module's rule kind: a layer's experts are one merged module. */
function kindOf(m: ExportModule): string {
  return m.expert !== null ? 'experts' : m.projection;
}

export function gptqModelConfig(view: QuantizedModelView): GptqModelConfig {
  const format = 'gptqmodel';
  refuseExpertReduction(format, view.recipe);
  const method = singleMethod(format, view.modules);
  if (method.kind === 'awq') {
    throw new ExportRefusedError(`${format}: AWQ writes an AWQ (gemm) checkpoint, not the GPTQ checkpoint this export targets; export AWQ recipes as compressed-tensors`);
  }
  if (method.kind === 'autoround') {
    // GPTQModel 7.7.0's METHOD enum (quantization/config.py) has no AutoRound: its GPTQ/RTN configs
    // would round the weights another way than the recipe measured.
    throw new ExportRefusedError(`${format}: GPTQModel 7.7 has no AutoRound method; export AutoRound recipes as compressed-tensors or llmcompressor`);
  }
  if (view.recipe.activations !== 'bf16') throw new ExportRefusedError(`${format}: GPTQ checkpoints are weight-only; the recipe quantizes activations to ${view.recipe.activations}`);
  for (const m of quantized(view.modules)) {
    if (m.spec.format !== 'int') throw new ExportRefusedError(`${format}: ${m.tensor} is ${m.spec.format}; GPTQ checkpoints store int weights`);
    if (m.projection === 'embed') throw new ExportRefusedError(`${format}: GPTQModel does not quantize the token embeddings (${m.tensor} is ${m.spec.bits}-bit)`);
  }
  const layered = view.modules.filter((m) => m.projection !== 'embed');
  const uniform = uniformPerUnit(layered, (m) => `${kindOf(m)}|${m.layer}`, (m) => specKey(m.spec));
  if (!uniform.ok) {
    throw new ExportRefusedError(`${format}: ${uniform.a.tensor} and ${uniform.b.tensor} differ, but GPTQModel's dynamic rules give the merged experts module of a layer one config`);
  }
  // The base config is the spec most modules use; rules cover every other module kind and layer.
  const counts = new Map<string, { n: number; spec: QuantSpec }>();
  for (const m of quantized(layered)) {
    const k = specKey(m.spec);
    counts.set(k, { n: (counts.get(k)?.n ?? 0) + 1, spec: m.spec });
  }
  const [baseKey, base] = [...counts.entries()].sort(([ka, a], [kb, b]) => b.n - a.n || (ka < kb ? -1 : 1))[0] ?? [];
  if (!base || baseKey === undefined) throw new ExportRefusedError(`${format}: the recipe quantizes no layer module or lm_head; there is nothing for GPTQModel to do`);
  const units: RuleUnit<QuantSpec>[] = [...uniform.byUnit.values()].map((m) => ({ kind: kindOf(m), layer: m.layer, key: specKey(m.spec), value: m.spec }));
  const dynamic: GptqModelConfig['dynamic'] = {};
  for (const rule of groupRules(units, GPTQMODEL_RULE_ORDER)) {
    const regex = moduleRegex(rule.kind as (typeof GPTQMODEL_RULE_ORDER)[number], rule.layers);
    if (rule.value.bits === 16) dynamic[`-:${regex}`] = {};
    else if (rule.key !== baseKey) dynamic[`+:${regex}`] = gptqOverride(rule.value);
  }
  const lmHead = view.modules.find((m) => m.projection === 'lm_head');
  // Fields in GPTQModel's own to_dict order, the per-method ones before the rules.
  const config: GptqModelConfig = {
    ...gptqOverride(base.spec),
    desc_act: method.kind === 'gptq' ? method.actOrder : false,
    method: 'gptq',
    format: 'gptq',
    lm_head: lmHead !== undefined && lmHead.spec.bits !== 16,
    ...(method.kind === 'gptq' ? { damp_percent: method.damp } : { weight_only: { method: 'rtn' as const } }),
    dynamic,
  };
  return config;
}

export const exportGptqModel: Exporter = (request): ExportedFile[] => {
  const config = gptqModelConfig(readQuantizedModel(request.quantizedDir));
  return [{ path: GPTQMODEL_FILE, bytes: new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`) }];
};
