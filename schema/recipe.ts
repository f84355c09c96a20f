// The recipe is the genome: a policy over module roles, layer depth and expert rank.
// It never names tensors, so a recipe found on the proxy applies to any model of a supported family.
import { z } from 'zod';
import { describeIssue } from './issues.js';
import { FAILURE_TYPES } from './failures.js';
import { BF16_KV, KvPolicy } from './kv-policy.js';

export const MODULE_ROLES = [
  'attn_q',
  'attn_k',
  'attn_v',
  'attn_o',
  'expert_gate',
  'expert_up',
  'expert_down',
  'shared_expert',
  'dense_mlp',
  'router',
  'embeddings',
  'lm_head',
] as const;
export const ModuleRole = z.enum(MODULE_ROLES);
export type ModuleRole = z.infer<typeof ModuleRole>;

export const WEIGHT_BITS = [2, 3, 4, 8, 16] as const;
export const WeightBits = z.union(WEIGHT_BITS.map((b) => z.literal(b)) as [
  z.ZodLiteral<2>,
  z.ZodLiteral<3>,
  z.ZodLiteral<4>,
  z.ZodLiteral<8>,
  z.ZodLiteral<16>,
], { error: 'bits must be one of 2, 3, 4, 8 or 16' });
export type WeightBits = z.infer<typeof WeightBits>;

/** Group size along the input dimension, or 'channel' for one scale per output row. */
export const GroupSize = z.union([
  z.literal('channel'),
  z.number().int().refine((g) => [32, 64, 128, 256].includes(g), { message: 'groupSize must be 32, 64, 128, 256 or "channel"' }),
]);
export type GroupSize = z.infer<typeof GroupSize>;

export const RtnMethod = z.object({ kind: z.literal('rtn') }).strict();
export const GptqMethod = z
  .object({
    kind: z.literal('gptq'),
    /** Fraction of the mean Hessian diagonal added to its diagonal. */
    damp: z.number().gt(0).max(1).default(0.01),
    blockSize: z.number().int().min(1).max(1024).default(128),
    actOrder: z.boolean().default(true),
  })
  .strict();
export const AwqScales = z.enum(['per-module', 'shared-input']);
export type AwqScales = z.infer<typeof AwqScales>;
export const AwqMethod = z
  .object({
    kind: z.literal('awq'),
    /** Number of exponents alpha in [0,1) tried for s = mean|x|^alpha. */
    scaleGrid: z.number().int().min(2).max(100).default(20),
    /** Search a per-group clipping ratio after scaling. */
    clip: z.boolean().default(true),
    clipGrid: z.number().int().min(2).max(100).default(10),
    /** Smallest clipping ratio tried (max |w| is shrunk to this fraction at most). */
    maxShrink: z.number().gt(0).lt(1).default(0.5),
    /**
     * per-module (the default): each module searches its own s. shared-input: the modules that read
     * one input (a layer's q/k/v; every routed expert's gate/up and the router) search one α jointly
     * and share one s, which folds into the norm before them, so a serving stack can run it.
     */
    scales: AwqScales.optional(),
  })
  .strict()
  // The default is left out of the parsed method, so recipes from before this field keep their
  // content hash and an explicit `per-module` hashes the same as none.
  .transform(({ scales, ...rest }) => (scales === 'shared-input' ? { ...rest, scales } : rest));
/**
 * AutoRound (Cheng et al. 2023): per-weight rounding offsets and per-group min/max factors learned by
 * signed gradient descent on the layer's output error. Bounded so that a hostile file cannot make a
 * quantization run for hours: every step walks the whole layer.
 */
export const AutoRoundMethod = z
  .object({
    kind: z.literal('autoround'),
    /** Signed-gradient steps per layer (the paper's default: 200). */
    iterations: z.number().int().min(1).max(1000).default(200),
    /** Initial step size of the offsets and factors, decaying linearly to 0; absent: 1/iterations, as auto-round. */
    learningRate: z.number().gt(0).max(0.5).optional(),
    /** Also learn each group's factors α, β ∈ [0.5, 1] on its max and min (a learned clipping). */
    minMax: z.boolean().default(true),
  })
  .strict();
/** The step size an AutoRound method runs with. */
export function autoRoundLearningRate(method: z.infer<typeof AutoRoundMethod>): number {
  return method.learningRate ?? 1 / method.iterations;
}
/** Whether AWQ's channel scales are searched per module or shared by the modules of one input. */
export function awqSharesScales(method: QuantMethod): boolean {
  return method.kind === 'awq' && 'scales' in method && method.scales === 'shared-input';
}
export const QuantMethod = z.discriminatedUnion('kind', [RtnMethod, GptqMethod, AwqMethod, AutoRoundMethod]);
export type QuantMethod = z.infer<typeof QuantMethod>;

export const OutlierPolicy = z
  .object({
    /** Fraction of weights kept exactly in fp16 as sparse (index, value) entries. */
    fraction: z.number().gt(0).max(0.1),
    /** activation-weighted: |w_ij| * rms(x_j); magnitude: |w_ij|. */
    criterion: z.enum(['activation-weighted', 'magnitude']).default('activation-weighted'),
  })
  .strict();
export type OutlierPolicy = z.infer<typeof OutlierPolicy>;

export const RotationPolicy = z
  .object({
    kind: z.literal('hadamard'),
    /** Seed of the random sign flips; the rotation is reproducible from it. */
    seed: z.number().int().min(0).default(0),
    /**
     * Largest Hadamard block (a power of two). Under tensor parallelism a block must not straddle
     * two GPUs' shards of the input dimension; the block used is the smaller of this and the largest
     * power of two dividing the input width.
     */
    blockSize: z
      .number()
      .int()
      .refine((b) => b >= 16 && b <= 8192 && (b & (b - 1)) === 0, { message: 'blockSize must be a power of two from 16 to 8192' })
      .optional(),
  })
  .strict();
export type RotationPolicy = z.infer<typeof RotationPolicy>;

const quantSpecShape = {
  bits: WeightBits,
  /** int: uniform integer grid; fp8: e4m3 with a per-channel or per-group scale. */
  format: z.enum(['int', 'fp8']).default('int'),
  groupSize: GroupSize.default(128),
  symmetric: z.boolean().default(false),
  method: QuantMethod.default({ kind: 'rtn' }),
  outliers: OutlierPolicy.optional(),
  rotation: RotationPolicy.optional(),
};

function checkSpec(spec: { bits: number; format: string; groupSize: GroupSize; method: QuantMethod; rotation?: unknown }, ctx: z.RefinementCtx): void {
  if (spec.format === 'fp8' && spec.bits !== 8) {
    ctx.addIssue({ code: 'custom', path: ['bits'], message: 'fp8 format requires bits 8' });
  }
  if (spec.format === 'fp8' && spec.method.kind !== 'rtn') {
    ctx.addIssue({ code: 'custom', path: ['method'], message: 'fp8 format is cast per scale (method rtn)' });
  }
}

/** A fully specified quantization of one linear module. */
export const QuantSpec = z.object(quantSpecShape).strict().superRefine(checkSpec);
export type QuantSpec = z.infer<typeof QuantSpec>;
export type QuantSpecInput = z.input<typeof QuantSpec>;

/** Fields that override the default for a role, a depth band or an expert tier. */
export const QuantOverride = z
  .object({
    bits: WeightBits.optional(),
    format: z.enum(['int', 'fp8']).optional(),
    groupSize: GroupSize.optional(),
    symmetric: z.boolean().optional(),
    method: QuantMethod.optional(),
    outliers: OutlierPolicy.nullable().optional(),
    rotation: RotationPolicy.nullable().optional(),
  })
  .strict();
export type QuantOverride = z.infer<typeof QuantOverride>;

export const ExpertTier = z
  .object({
    /** Experts whose rank quantile (0 = hottest / most sensitive) is below this bound take the override. */
    below: z.number().gt(0).max(1),
    override: QuantOverride,
  })
  .strict();
export type ExpertTier = z.infer<typeof ExpertTier>;

/** Tiers are ordered by `below`: the first whose bound exceeds a quantile applies. */
function increasingTiers(p: { tiers: ExpertTier[] }, ctx: z.RefinementCtx): void {
  for (let i = 1; i < p.tiers.length; i++) {
    if (p.tiers[i].below <= p.tiers[i - 1].below) {
      ctx.addIssue({ code: 'custom', path: ['tiers', i, 'below'], message: 'tiers must have increasing `below` bounds' });
    }
  }
}

export const ExpertPolicy = z
  .object({
    rankBy: z.enum(['routing-frequency', 'sensitivity']),
    /** Ordered by `below`; the first tier whose bound exceeds an expert's quantile applies. */
    tiers: z.array(ExpertTier).min(1).max(64),
  })
  .strict()
  .superRefine(increasingTiers);
export type ExpertPolicy = z.infer<typeof ExpertPolicy>;

/**
 * Expert bits per layer: layers are ranked by the measured sensitivity of their experts (the
 * damage of quantizing each expert alone, summed over the layer) and every routed expert of a
 * layer (gate, up and down) takes its layer's tier. Serving stacks run one scheme per layer's
 * fused experts, so this is the servable form of expert mixed precision; `experts` (per-expert
 * tiers inside a layer) is a research gene of the reference executor.
 */
export const ExpertLayerPolicy = z
  .object({
    rankBy: z.enum(['sensitivity']),
    /** `below` bounds a layer's rank quantile (0 = the layer whose experts are most sensitive). */
    tiers: z.array(ExpertTier).min(1).max(64),
  })
  .strict()
  .superRefine(increasingTiers);
export type ExpertLayerPolicy = z.infer<typeof ExpertLayerPolicy>;

/**
 * Expert pruning or merging: the same number of routed experts is removed from every MoE layer
 * (floor(fraction × experts)), because an HF config (num_experts, num_local_experts) and the
 * serving stacks hold one expert count for all layers. Each layer keeps its most-routed experts
 * (routing frequency measured on the calibration text); the router rows of the removed ones are
 * dropped, so routing is a softmax and top-k over the experts that remain. prune: the removed
 * experts are dropped (NAEE, Lu et al. 2024, arXiv 2402.14800, by frequency instead of its
 * reconstruction search). merge: each removed expert is folded into the kept expert whose router
 * logits on the calibration text are most similar, as a routing-frequency-weighted average of
 * their weights after aligning its intermediate neurons (MC-SMoE, Li et al. 2023, arXiv
 * 2310.01334; HC-SMoE, Chen et al. 2024, arXiv 2410.08589, merge by frequency-weighted averaging).
 */
export const ExpertReduction = z
  .object({
    mode: z.enum(['prune', 'merge']),
    /** Fraction of each layer's routed experts removed; compile refuses a model where fewer than top-k would remain. */
    fraction: z.number().gt(0).max(0.75),
    rankBy: z.enum(['routing-frequency']).default('routing-frequency'),
  })
  .strict();
export type ExpertReduction = z.infer<typeof ExpertReduction>;

/** Routed experts a reduction removes from each layer of `numExperts`. */
export function expertsRemoved(numExperts: number, reduction: Pick<ExpertReduction, 'fraction'> | undefined): number {
  return reduction ? Math.floor(numExperts * reduction.fraction + 1e-9) : 0;
}

/** Routed experts each layer keeps under a reduction. */
export function expertsKept(numExperts: number, reduction: Pick<ExpertReduction, 'fraction'> | undefined): number {
  return numExperts - expertsRemoved(numExperts, reduction);
}

/** A depth band's order for Q-Enhance's long-range layers (see DepthBand.order). */
export const LONG_CONTEXT_ORDER = 'long-context-sensitivity';

/** True when a recipe places some layers by their measured long-context sensitivity. */
export function ordersByLongContext(recipe: Pick<Recipe, 'depth'>): boolean {
  return recipe.depth.some((b) => b.order === LONG_CONTEXT_ORDER);
}

export const DepthBand = z
  .object({
    /** Relative depth range [from, to) in [0, 1]; layer i of n sits at i / n. */
    from: z.number().min(0).max(1),
    to: z.number().min(0).max(1),
    roles: z.array(ModuleRole).optional(),
    /**
     * What [from, to) is read along: depth (absent), or the layers' rank by measured long-context
     * sensitivity (Q-Enhance): 0 is the layer whose quantization hurts the farthest position bucket most.
     */
    order: z.enum(['depth', LONG_CONTEXT_ORDER]).optional(),
    override: QuantOverride,
  })
  .strict()
  .refine((b) => b.to > b.from, { message: 'depth band needs to > from', path: ['to'] });
export type DepthBand = z.infer<typeof DepthBand>;

/**
 * Overrides by module role. An object with one optional key per role, strict: z.partialRecord
 * silently drops a `__proto__` key, and every other unknown key (constructor, prototype, typos)
 * must be refused the same way.
 */
export const RoleOverrides = z.strictObject(
  Object.fromEntries(MODULE_ROLES.map((role) => [role, QuantOverride.optional()])) as { [R in ModuleRole]: z.ZodOptional<typeof QuantOverride> },
);
export type RoleOverrides = z.infer<typeof RoleOverrides>;

/** The legacy `kvCacheBits` gene's widths (recipes, innovations and files written before `kvCache`). */
export const LEGACY_KV_BITS = [16, 8, 4] as const;
export type LegacyKvBits = (typeof LEGACY_KV_BITS)[number];

/**
 * The KV policy a legacy `kvCacheBits` meant, as physics charged it: 16 → none (bf16), 8 → fp8 e4m3
 * K and V with one scale per layer, 4 → int4 with an fp16 scale and zero per (token, KV head).
 */
export function legacyKvPolicy(bits: LegacyKvBits): KvPolicy | undefined {
  if (bits === 16) return undefined;
  const tensor = bits === 8 ? ({ format: 'fp8_e4m3' } as const) : ({ format: 'int4', axis: 'token', groupSize: 128 } as const);
  return KvPolicy.parse({ keys: tensor, values: tensor });
}

/** True for a policy that stores exactly what no policy stores: bf16 K and V, no windows, post-RoPE keys, no rotation, no bands. */
export function isDefaultKvPolicy(p: KvPolicy): boolean {
  const { layers, ...base } = p;
  return layers.length === 0 && JSON.stringify(Object.entries(base).sort()) === JSON.stringify(Object.entries(BF16_KV).sort());
}

/** The recipe's fields as written; `Recipe` maps the legacy `kvCacheBits` onto `kvCache`. */
export const RecipeFields = z
  .object({
    name: z.string().min(1).max(120),
    description: z.string().max(2000).default(''),
    /** Activation format of the matmuls: bf16 (weight-only), fp8 or int8. */
    activations: z.enum(['bf16', 'fp8', 'int8']).default('bf16'),
    /** How attention keys and values are cached (schema/kv-policy.ts); absent: bf16. */
    kvCache: KvPolicy.optional(),
    /** Legacy: 16, 8 or 4 (see legacyKvPolicy); parsed into `kvCache` and never kept. */
    kvCacheBits: z.union(LEGACY_KV_BITS.map((b) => z.literal(b)) as [z.ZodLiteral<16>, z.ZodLiteral<8>, z.ZodLiteral<4>], { error: 'kvCacheBits must be 16, 8 or 4' }).optional(),
    default: QuantSpec,
    roles: RoleOverrides.default({}),
    // Bounded so that a hostile file cannot make compile walk millions of bands.
    depth: z.array(DepthBand).max(256).default([]),
    experts: ExpertPolicy.optional(),
    expertLayers: ExpertLayerPolicy.optional(),
    expertReduction: ExpertReduction.optional(),
  })
  .strict();
type RecipeOutput = Omit<z.output<typeof RecipeFields>, 'kvCacheBits'>;

export const Recipe = RecipeFields.superRefine((r, ctx) => {
  if (r.kvCache !== undefined && r.kvCacheBits !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['kvCacheBits'], message: 'give kvCache or the legacy kvCacheBits, not both' });
  }
})
  // The bf16 policy is left out of the parsed recipe, so a recipe that spells it out (or says
  // kvCacheBits 16) hashes as one that says nothing.
  .transform(({ kvCacheBits, kvCache, ...rest }): RecipeOutput => {
    const policy = kvCache ?? (kvCacheBits === undefined ? undefined : legacyKvPolicy(kvCacheBits));
    return policy === undefined || isDefaultKvPolicy(policy) ? rest : { ...rest, kvCache: policy };
  });
export type Recipe = z.infer<typeof Recipe>;
export type RecipeInput = z.input<typeof Recipe>;

/** The KV policy a recipe caches by: its own, or bf16. */
export function kvPolicyOf(recipe: Pick<Recipe, 'kvCache'>): KvPolicy {
  return recipe.kvCache ?? KvPolicy.parse({});
}

/** Where one linear module sits, as far as a recipe can see. */
export interface ModuleSite {
  role: ModuleRole;
  layer: number | null;
  numLayers: number;
  /** Rank quantile of the expert in [0, 1): 0 is the hottest or most sensitive. Null outside experts. */
  expertQuantile: number | null;
  /**
   * Rank quantile of the module's layer under the recipe's `expertLayers` ranking, in [0, 1):
   * 0 is the layer whose experts are most sensitive. Absent or null: the layer's depth
   * (layer / numLayers), the ranking compile uses when it has no sensitivity evidence.
   */
  layerQuantile?: number | null;
  /**
   * Rank quantile of the module's layer by measured long-context sensitivity, in [0, 1): 0 hurts
   * the farthest position bucket most. Absent or null: the layer's depth, as compile places it.
   */
  longContextQuantile?: number | null;
}

/** The layer quantile an `expertLayers` tier is chosen by. */
export function layerQuantileOf(site: ModuleSite): number | null {
  if (site.layer === null) return null;
  return site.layerQuantile ?? site.layer / Math.max(1, site.numLayers);
}

const EXPERT_ROLES: ReadonlySet<ModuleRole> = new Set(['expert_gate', 'expert_up', 'expert_down']);
export function isExpertRole(role: ModuleRole): boolean {
  return EXPERT_ROLES.has(role);
}

function applyOverride(spec: QuantSpec, o: QuantOverride | undefined): QuantSpec {
  if (!o) return spec;
  const next: QuantSpec = { ...spec };
  if (o.bits !== undefined) next.bits = o.bits;
  if (o.format !== undefined) next.format = o.format;
  if (o.groupSize !== undefined) next.groupSize = o.groupSize;
  if (o.symmetric !== undefined) next.symmetric = o.symmetric;
  if (o.method !== undefined) next.method = o.method;
  if (o.outliers !== undefined) next.outliers = o.outliers ?? undefined;
  if (o.rotation !== undefined) next.rotation = o.rotation ?? undefined;
  // Kept in bf16: format and method no longer apply (an fp8 default must not leak into it).
  if (next.bits === 16) next.format = 'int';
  return next;
}

/**
 * The spec a recipe gives one module: default, then role, then depth bands, then the expert
 * layer tier, then the expert tier.
 * The result is re-validated, so an override cannot produce an impossible spec.
 */
export function resolveSpec(recipe: Recipe, site: ModuleSite): QuantSpec {
  let spec = applyOverride(recipe.default, recipe.roles[site.role]);
  if (site.layer !== null) {
    const depth = site.layer / Math.max(1, site.numLayers);
    for (const band of recipe.depth) {
      const at = band.order === LONG_CONTEXT_ORDER ? (site.longContextQuantile ?? depth) : depth;
      if (at >= band.from && at < band.to && (!band.roles || band.roles.includes(site.role))) {
        spec = applyOverride(spec, band.override);
      }
    }
  }
  const layerQuantile = layerQuantileOf(site);
  if (recipe.expertLayers && layerQuantile !== null && isExpertRole(site.role)) {
    const tier = recipe.expertLayers.tiers.find((t) => layerQuantile < t.below);
    spec = applyOverride(spec, tier?.override);
  }
  if (recipe.experts && site.expertQuantile !== null && isExpertRole(site.role)) {
    const tier = recipe.experts.tiers.find((t) => site.expertQuantile! < t.below);
    spec = applyOverride(spec, tier?.override);
  }
  return QuantSpec.parse(spec);
}

/** Parses a recipe, turning the first zod issue into one line naming the field at fault. */
export function parseRecipe(input: unknown): Recipe {
  const result = Recipe.safeParse(input);
  if (!result.success) throw new InvalidRecipeError(describeIssue(result.error.issues[0], { root: 'recipe', brackets: false }));
  return result.data;
}

export class InvalidRecipeError extends Error {
  override readonly name = FAILURE_TYPES.invalidRecipe;
}
