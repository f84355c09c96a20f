// A recipe moved onto what a serving stack runs: the proposer's children must be deployable on the
// evolution's stack, so every gene the stack's table refuses is replaced by the nearest one it takes
// (more bits rather than fewer, GPTQ for unfoldable AWQ scales, per-layer for per-expert tiers).
// The recipe is a policy, not a tensor list: it is checked at every (role, depth region, tier) site
// its bands and tiers distinguish, and the fixes are written back as policy at the narrowest place
// that decides the site (the role, a role-restricted depth band, or the tier).
import type { ActivationFormat, HardwareProfile } from '../../schema/hardware.js';
import {
  MODULE_ROLES,
  Recipe,
  isExpertRole,
  kvPolicyOf,
  resolveSpec,
  type ModuleRole,
  type ModuleSite,
  type QuantOverride,
  type QuantSpec,
} from '../../schema/recipe.js';
import type { ModuleKind, ServingStackTable, StackKernel, StackRule } from '../../schema/serving-stack.js';
import { activationOf } from './kernel-check.js';
import { kvPolicyFailures, kvRuleOf, servableKvPolicy } from './kv-check.js';
import type { Projection } from './modules.js';
import { hasFeature, kernelMiss, schemeOf } from './serving-check.js';

/** How the stack sees a role's modules (serving-check.moduleKindOf, by role). */
export function moduleKindOfRole(role: ModuleRole): ModuleKind {
  if (isExpertRole(role)) return 'moe-experts';
  if (role === 'router') return 'router';
  if (role === 'embeddings') return 'embeddings';
  return 'dense-linear';
}

/** A projection standing for the role's modules in feature checks: q/k/v and gate/up share their input. */
const PROJECTION: Record<ModuleRole, Projection> = {
  attn_q: 'q',
  attn_k: 'k',
  attn_v: 'v',
  attn_o: 'o',
  expert_gate: 'gate',
  expert_up: 'up',
  expert_down: 'down',
  // A dense or shared-expert MLP role covers gate and up too: their input is shared.
  shared_expert: 'gate',
  dense_mlp: 'gate',
  router: 'router',
  embeddings: 'embed',
  lm_head: 'lm_head',
};

type Feature = Extract<StackRule, { kind: 'unsupported' }>['feature'];

/** True when the stack has no format for the gene on this kind of module. */
export function stackRefuses(table: ServingStackTable, feature: Feature, kind: ModuleKind): boolean {
  if (table.rules.some((r) => r.kind === 'unsupported' && r.feature === feature && r.moduleKinds.includes(kind))) return true;
  return feature === 'rotation' && checkpointLimits(table).includes('rotation');
}

/** What the stack's default checkpoint, as evoquant writes it, cannot carry. */
export function checkpointLimits(table: ServingStackTable): string[] {
  const format = table.checkpoints[0];
  return table.rules.flatMap((r) => (r.kind === 'checkpoint-limits' && r.format === format ? r.features : []));
}

/** True when the stack runs one scheme per layer's experts (or per expert tensor): no per-expert tiers. */
export function stackRefusesPerExpertTiers(table: ServingStackTable): boolean {
  return table.rules.some((r) => r.kind === 'same-scheme' && (r.group === 'layer-experts' || r.group === 'expert-tensor'));
}

function kernelsOf(table: ServingStackTable, kind: ModuleKind): StackKernel[] | null {
  const rule = table.rules.find((r) => r.kind === 'kernels' && r.moduleKind === kind);
  return rule && rule.kind === 'kernels' ? rule.kernels : null;
}

/** The kernel that takes the spec on the GPU, shapes aside; 'any' on a stack without kernel rules. */
function servedBy(table: ServingStackTable, hw: HardwareProfile, kind: ModuleKind, spec: QuantSpec, act: ActivationFormat): string | null {
  const kernels = kernelsOf(table, kind);
  if (kernels === null) return 'any';
  return kernels.find((k) => kernelMiss(k, hw, spec, act, null) === null)?.id ?? null;
}

const BIT_LADDER = [2, 3, 4, 8, 16] as const;

/**
 * The nearest spec the stack's kernels for the kind take: the same bits if the group or symmetry
 * was the problem, else the next wider bit width (then narrower ones), on the integer grid.
 */
function nearestServable(table: ServingStackTable, hw: HardwareProfile, kind: ModuleKind, spec: QuantSpec, act: ActivationFormat): QuantSpec | null {
  const kernels = kernelsOf(table, kind) ?? [];
  const wider = BIT_LADDER.filter((b) => b >= spec.bits);
  const narrower = BIT_LADDER.filter((b) => b < spec.bits).reverse();
  for (const bits of [...wider, ...narrower]) {
    for (const k of kernels) {
      if (!(k.bits as number[]).includes(bits)) continue;
      const groupSize = !k.groupSizes || k.groupSizes.includes(spec.groupSize) ? spec.groupSize : k.groupSizes.includes(128) ? 128 : k.groupSizes[0];
      const format = bits === 8 && k.weight === 'fp8' ? 'fp8' : 'int';
      const candidate: QuantSpec = {
        ...spec,
        bits: bits as QuantSpec['bits'],
        format,
        groupSize,
        symmetric: format === 'fp8' || spec.symmetric || !k.asymmetricBits.includes(bits),
        ...(format === 'fp8' ? { method: { kind: 'rtn' as const } } : {}),
      };
      if (kernelMiss(k, hw, candidate, activationOf(candidate, act), null) === null) return candidate;
    }
  }
  return null;
}

interface Region {
  from: number;
  to: number;
}

/** Slots of a tier list: one per tier plus the quantiles past the last bound. */
function tierSlots(bounds: readonly number[] | null): Array<{ quantile: number; tier: number } | null> {
  if (bounds === null) return [null];
  const slots: Array<{ quantile: number; tier: number }> = [];
  let lo = 0;
  bounds.forEach((b, i) => {
    slots.push({ quantile: (lo + b) / 2, tier: i });
    lo = b;
  });
  if (lo < 1) slots.push({ quantile: (lo + 1) / 2, tier: -1 });
  return slots;
}

/** Depth is layer / numLayers: a fine grid puts a site at the middle of each region. */
const GRID = 1_000_000;

interface Site {
  role: ModuleRole;
  region: Region | null;
  layerTier: number;
  expertTier: number;
  site: ModuleSite;
}

/** The model's roles, when known: fixes for roles it does not have would only clutter the recipe. */
export type RoleSet = ReadonlySet<ModuleRole>;

function sitesOf(recipe: Recipe, roles?: RoleSet): Site[] {
  const cuts = [...new Set([0, 1, ...recipe.depth.flatMap((b) => [b.from, b.to])])].sort((a, b) => a - b);
  const regions: Region[] = cuts.slice(1).map((to, i) => ({ from: cuts[i], to }));
  const out: Site[] = [];
  for (const role of MODULE_ROLES.filter((r) => !roles || roles.has(r))) {
    if (role === 'embeddings' || role === 'lm_head') {
      out.push({ role, region: null, layerTier: -1, expertTier: -1, site: { role, layer: null, numLayers: GRID, expertQuantile: null } });
      continue;
    }
    const expert = isExpertRole(role);
    for (const region of regions) {
      const layer = Math.floor(((region.from + region.to) / 2) * GRID);
      for (const ls of expert ? tierSlots(recipe.expertLayers?.tiers.map((t) => t.below) ?? null) : [null]) {
        for (const es of expert ? tierSlots(recipe.experts?.tiers.map((t) => t.below) ?? null) : [null]) {
          out.push({
            role,
            region,
            layerTier: ls?.tier ?? -1,
            expertTier: es?.tier ?? -1,
            site: { role, layer, numLayers: GRID, expertQuantile: expert ? (es?.quantile ?? 0) : null, layerQuantile: ls?.quantile ?? null },
          });
        }
      }
    }
  }
  return out;
}

/** Writes a fix where it decides the site: the role, unless a band or tier after it sets the same fields. */
function placeFix(recipe: Recipe, s: Site, fix: QuantOverride): void {
  const fields = Object.keys(fix) as Array<keyof QuantOverride>;
  const sets = (o: QuantOverride): boolean => fields.some((f) => o[f] !== undefined);
  const tier = [
    s.layerTier >= 0 ? recipe.expertLayers?.tiers[s.layerTier] : undefined,
    s.expertTier >= 0 ? recipe.experts?.tiers[s.expertTier] : undefined,
  ].filter((t) => t !== undefined && sets(t.override));
  if (tier.length > 0) {
    for (const t of tier) Object.assign(t!.override, fix);
    return;
  }
  const depth = s.site.layer === null ? -1 : s.site.layer / GRID;
  const shadowed = recipe.depth.some((b) => depth >= b.from && depth < b.to && (!b.roles || b.roles.includes(s.role)) && sets(b.override));
  if (!shadowed || s.region === null) {
    recipe.roles[s.role] = { ...(recipe.roles[s.role] ?? {}), ...fix };
    return;
  }
  recipe.depth.push({ from: s.region.from, to: s.region.to, roles: [s.role], override: { ...fix } });
}

const GPTQ = { kind: 'gptq', damp: 0.01, blockSize: 128, actOrder: true } as const;
const GROUPED_KV = { numAttentionHeads: 2, numKeyValueHeads: 1 };

/** The fix one site needs, or null when the stack serves it as it is. */
function siteFix(table: ServingStackTable, hw: HardwareProfile, recipe: Recipe, s: Site, spec: QuantSpec): QuantOverride | null {
  if (spec.bits === 16) return null;
  const kind = moduleKindOfRole(s.role);
  // A site inside a layer (any layer: the sharing of inputs does not depend on which).
  const m = { role: s.role, projection: PROJECTION[s.role], layer: 0 };
  const fix: QuantOverride = {};
  if (hasFeature('outliers', m, spec) && stackRefuses(table, 'outliers', kind)) fix.outliers = null;
  if (hasFeature('rotation', m, spec) && stackRefuses(table, 'rotation', kind)) fix.rotation = null;
  if (hasFeature('awq-unshared-scales', m, spec) && stackRefuses(table, 'awq-unshared-scales', kind)) fix.method = { ...GPTQ };
  if (hasFeature('awq-rotated', m, spec) && stackRefuses(table, 'awq-rotated', kind)) fix.method = { ...GPTQ };
  // A recipe does not know the model's heads: assume grouped KV heads, as most MoE models have.
  if (hasFeature('awq-gqa-output', m, spec, GROUPED_KV) && stackRefuses(table, 'awq-gqa-output', kind)) fix.method = { ...GPTQ };
  const act = activationOf(spec, recipe.activations);
  if (servedBy(table, hw, kind, spec, act) === null) {
    const near = nearestServable(table, hw, kind, spec, act);
    if (near === null) return { bits: 16 };
    for (const f of ['bits', 'format', 'groupSize', 'symmetric'] as const) if (near[f] !== spec[f]) Object.assign(fix, { [f]: near[f] });
    if (near.method.kind !== spec.method.kind) fix.method = near.method;
  }
  return Object.keys(fix).length > 0 ? fix : null;
}

/** Fields that make two specs one scheme (serving-check.schemeOf). */
function schemeFix(target: QuantSpec, spec: QuantSpec): QuantOverride | null {
  if (schemeOf(target) === schemeOf(spec)) return null;
  return target.bits === 16 ? { bits: 16 } : { bits: target.bits, format: target.format, groupSize: target.groupSize, symmetric: target.symmetric };
}

/** Modules that must share one scheme under the stack's rules, as groups of roles. */
function fusedRoleGroups(table: ServingStackTable): ModuleRole[][] {
  const groups: ModuleRole[][] = [];
  for (const r of table.rules) {
    if (r.kind !== 'same-scheme') continue;
    if (r.group === 'qkv') groups.push(['attn_q', 'attn_k', 'attn_v']);
    if (r.group === 'layer-experts') groups.push(['expert_gate', 'expert_up', 'expert_down']);
  }
  return groups;
}

/** One pass: every site the stack cannot serve gets its fix. Returns whether anything changed. */
function fixPass(table: ServingStackTable, hw: HardwareProfile, recipe: Recipe, roles?: RoleSet): boolean {
  let changed = false;
  const sites = sitesOf(recipe, roles);
  for (const s of sites) {
    const fix = siteFix(table, hw, recipe, s, resolveSpec(recipe, s.site));
    if (fix) {
      placeFix(recipe, s, fix);
      changed = true;
    }
  }
  if (changed) return true;
  // Fused groups: every member takes the widest member's scheme at each site.
  for (const group of fusedRoleGroups(table)) {
    const at = new Map<string, Site[]>();
    for (const s of sites.filter((x) => group.includes(x.role))) {
      const key = `${s.region?.from}|${s.layerTier}|${s.expertTier}`;
      at.set(key, [...(at.get(key) ?? []), s]);
    }
    for (const members of at.values()) {
      const specs = members.map((s) => resolveSpec(recipe, s.site));
      const widest = specs.reduce((a, b) => (b.bits > a.bits ? b : a));
      members.forEach((s, i) => {
        const fix = schemeFix(widest, specs[i]);
        if (fix) {
          placeFix(recipe, s, fix);
          changed = true;
        }
      });
    }
  }
  return changed;
}

/** Sites the stack still refuses (empty when the recipe is servable, shapes aside). */
export function unservableSites(table: ServingStackTable, hw: HardwareProfile, recipe: Recipe, roles?: RoleSet): string[] {
  const out: string[] = [];
  const sites = sitesOf(recipe, roles);
  for (const s of sites) if (siteFix(table, hw, recipe, s, resolveSpec(recipe, s.site))) out.push(`${s.role}@${s.region?.from ?? '-'}/${s.layerTier}/${s.expertTier}`);
  for (const group of fusedRoleGroups(table)) {
    const schemes = new Map<string, Set<string>>();
    for (const s of sites.filter((x) => group.includes(x.role))) {
      const key = `${s.region?.from}|${s.layerTier}|${s.expertTier}`;
      schemes.set(key, (schemes.get(key) ?? new Set()).add(schemeOf(resolveSpec(recipe, s.site))));
    }
    for (const [key, set] of schemes) if (set.size > 1) out.push(`${group.join('/')}@${key}`);
  }
  if (recipe.experts && stackRefusesPerExpertTiers(table)) out.push('experts: per-expert tiers');
  if (recipe.expertReduction && checkpointLimits(table).includes('expert-reduction')) out.push('expertReduction: the checkpoint keeps every expert');
  const kv = kvRuleOf(table);
  if (kv) for (const reason of kvPolicyFailures(kv, kvPolicyOf(recipe), null)) out.push(`kv-cache: ${reason}`);
  return out;
}

/**
 * The recipe as the stack can serve it on this GPU, or null when no nearby servable recipe exists.
 * A stack without rules (reference) returns the recipe unchanged. Given the model's roles, only
 * those are checked; without them, every role a recipe can address.
 */
export function servableRecipe(table: ServingStackTable, hw: HardwareProfile, input: Recipe, roles?: RoleSet): Recipe | null {
  if (table.rules.length === 0) return input;
  const recipe = structuredClone(input);
  // Per-expert tiers become tiers of layers: the same bits, given to whole layers' experts.
  if (recipe.experts && stackRefusesPerExpertTiers(table)) {
    if (!recipe.expertLayers) recipe.expertLayers = { rankBy: 'sensitivity', tiers: recipe.experts.tiers };
    delete recipe.experts;
  }
  // The checkpoint as evoquant writes it keeps every expert: the nearest servable recipe keeps them too.
  if (recipe.expertReduction && checkpointLimits(table).includes('expert-reduction')) delete recipe.expertReduction;
  // The nearest KV policy the stack caches (the next wider storage, genes it lacks dropped).
  const kv = kvRuleOf(table);
  if (kv && recipe.kvCache) recipe.kvCache = servableKvPolicy(kv, recipe.kvCache, null);
  // Activations no kernel of the GPU takes (FP8 without FP8 tensor cores): weight-only instead.
  if (recipe.activations !== 'bf16') {
    const act = recipe.activations;
    const anyKernel = table.rules.some((r) => r.kind === 'kernels' && r.kernels.some((k) => k.activations.includes(act) && hw.sm >= k.minSm));
    if (!anyKernel || checkpointLimits(table).includes('quantized-activations')) recipe.activations = 'bf16';
  }
  try {
    for (let pass = 0; pass < 8 && fixPass(table, hw, recipe, roles); pass++);
    const parsed = Recipe.safeParse(recipe);
    if (!parsed.success) return null;
    return unservableSites(table, hw, parsed.data, roles).length === 0 ? parsed.data : null;
  } catch {
    // An override combination that resolves to an impossible spec (e.g. fp8 at 4 bits).
    return null;
  }
}
