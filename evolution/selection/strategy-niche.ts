// A recipe's strategy family (its niche for the curator): the method of its default spec and at
// most one structural feature, e.g. 'gptq', 'fp8', 'gptq+expert-layers', 'rtn+rotation'. Bits and
// group size are left out on purpose: they move a recipe along the memory axis, which the Pareto
// front already spreads; a niche is a way of compressing, so that a family behind today survives.
import type { ModuleRole, QuantOverride, QuantSpec, Recipe } from '../../schema/recipe.js';

/** The base of a niche: how the bulk (the default spec) is stored. */
export const NICHE_METHODS = ['bf16', 'fp8', 'rtn', 'gptq', 'awq', 'autoround'] as const;
export type NicheMethod = (typeof NICHE_METHODS)[number];

/**
 * Structural features, most distinctive first; a niche names only the first that applies, so there
 * are at most |methods| × (|features| + 1) niches.
 * - expert-tiers: bits per expert inside a layer (research gene of the reference stack);
 * - expert-layers: expert bits per layer, by sensitivity (the servable MoE mixed precision);
 * - rotation: a Hadamard rotation anywhere;
 * - outliers: sparse fp16 outliers anywhere;
 * - depth: depth bands that change the spec (e.g. protected edge layers);
 * - attn: attention projections kept at more bits than the default.
 */
export const NICHE_FEATURES = ['reduced-experts', 'expert-tiers', 'expert-layers', 'rotation', 'outliers', 'depth', 'attn'] as const;
export type NicheFeature = (typeof NICHE_FEATURES)[number];

const ATTENTION: readonly ModuleRole[] = ['attn_q', 'attn_k', 'attn_v', 'attn_o'];

function methodOf(spec: QuantSpec): NicheMethod {
  if (spec.bits === 16) return 'bf16';
  if (spec.format === 'fp8') return 'fp8';
  return spec.method.kind;
}

/**
 * The recipe's rounding method: its default's, or — when the default keeps modules in bf16 and
 * overrides quantize them (a budgeted allocation's depth bands) — the method of the first override
 * that quantizes.
 */
function effectiveMethod(recipe: Recipe): NicheMethod {
  if (recipe.default.bits !== 16) return methodOf(recipe.default);
  for (const o of allOverrides(recipe)) {
    if (o.bits !== undefined && o.bits !== 16) return methodOf({ ...recipe.default, ...o, method: o.method ?? recipe.default.method } as QuantSpec);
  }
  return 'bf16';
}

/** JSON with sorted keys, so equal genes compare equal whatever order their keys came in. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

/** Whether an override changes anything of the default spec (an empty or redundant tier is no strategy). */
function changesSpec(spec: QuantSpec, o: QuantOverride): boolean {
  const differs = <K extends keyof QuantOverride & keyof QuantSpec>(key: K): boolean =>
    o[key] !== undefined && canonical(o[key] ?? undefined) !== canonical(spec[key]);
  if (o.bits !== undefined && o.bits !== spec.bits) return true;
  // Other fields do not matter once a module is kept in bf16.
  if ((o.bits ?? spec.bits) === 16) return false;
  return differs('format') || differs('groupSize') || differs('symmetric') || differs('method') || differs('outliers') || differs('rotation');
}

/** Every override the recipe holds (roles, depth bands, expert and expert-layer tiers). */
function allOverrides(recipe: Recipe): QuantOverride[] {
  return [
    ...Object.values(recipe.roles).filter((o): o is QuantOverride => o !== undefined),
    ...recipe.depth.map((b) => b.override),
    ...(recipe.experts?.tiers ?? []).map((t) => t.override),
    ...(recipe.expertLayers?.tiers ?? []).map((t) => t.override),
  ];
}

/** The first structural feature that applies, in NICHE_FEATURES order; null for a uniform recipe. */
export function structuralFeature(recipe: Recipe): NicheFeature | null {
  const base = recipe.default;
  // Fewer experts is a different model: its own niche, whatever else it does.
  if (recipe.expertReduction) return 'reduced-experts';
  if (recipe.experts?.tiers.some((t) => changesSpec(base, t.override))) return 'expert-tiers';
  if (recipe.expertLayers?.tiers.some((t) => changesSpec(base, t.override))) return 'expert-layers';
  const overrides = allOverrides(recipe);
  // An override may set rotation/outliers to null (off): only a present policy counts.
  if (base.rotation || overrides.some((o) => o.rotation)) return 'rotation';
  if (base.outliers || overrides.some((o) => o.outliers)) return 'outliers';
  if (recipe.depth.some((b) => changesSpec(base, b.override))) return 'depth';
  if (ATTENTION.some((role) => (recipe.roles[role]?.bits ?? base.bits) > base.bits)) return 'attn';
  return null;
}

/** The recipe's strategy family: `method` or `method+feature`. */
export function strategyNiche(recipe: Recipe): string {
  const feature = structuralFeature(recipe);
  const method = effectiveMethod(recipe);
  return feature === null ? method : `${method}+${feature}`;
}
