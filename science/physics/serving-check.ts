// Can the target's serving stack run this module? Checks a module's spec against the stack's
// table (kernels, unsupported genes, checkpoint format) and groups of modules against the stack's
// shared-scheme rules. Every failure names its rule and the file that justifies it.
import type { Violation } from '../../schema/compile-report.js';
import type { ActivationFormat, HardwareProfile } from '../../schema/hardware.js';
import { awqSharesScales, type ModuleRole, type QuantSpec, type Recipe } from '../../schema/recipe.js';
import type { CheckpointFormat, ModuleKind, ServingStackTable, StackKernel, StackRule } from '../../schema/serving-stack.js';
import type { KvPolicy } from '../../schema/kv-policy.js';
import { formatLabel } from './kernel-check.js';
import { kvPolicyFailures } from './kv-check.js';
import { kvPolicyLabel } from './kv-cache.js';
import type { LinearModule } from './modules.js';
import type { Shard } from './sharding.js';

export interface StackFailure {
  rule: string;
  source: string;
  reason: string;
}

export type StackVerdict = { ok: true; kernel: string } | { ok: false; failures: StackFailure[] };

export function moduleKindOf(m: LinearModule): ModuleKind {
  if (m.expert !== null) return 'moe-experts';
  if (m.role === 'router') return 'router';
  if (m.role === 'embeddings') return 'embeddings';
  return 'dense-linear';
}

/**
 * The input (norm output) a module shares with others, or null when its input is its own (attn_o,
 * down_proj): q/k/v read input_layernorm; the router, the experts' and a shared expert's gate/up
 * and a dense MLP's gate/up read post_attention_layernorm. AWQ scales fold into that norm.
 */
export function sharedInputOf(m: Pick<LinearModule, 'role' | 'projection' | 'layer'>): string | null {
  if (m.layer === null) return null;
  if (m.role === 'attn_q' || m.role === 'attn_k' || m.role === 'attn_v') return `${m.layer}|attention`;
  if (m.projection === 'gate' || m.projection === 'up' || m.projection === 'router' || m.projection === 'shared_gate') return `${m.layer}|mlp`;
  return null;
}

/** Query heads per KV head > 1: one v_proj output row feeds several attn_o inputs. */
export interface AttentionHeads {
  numAttentionHeads: number;
  numKeyValueHeads: number;
}

function groupLabel(g: StackKernel['groupSizes'] & object): string {
  return g.map(String).join('/');
}

/**
 * Why one kernel does not take the module, or null when it does. Without a shard (a recipe seen
 * apart from any model, as the proposer sees it) only the format is checked, not the shapes.
 */
export function kernelMiss(k: StackKernel, hw: HardwareProfile, spec: QuantSpec, act: ActivationFormat, shard: Shard | null): string | null {
  const weight = spec.bits === 16 ? 'bf16' : spec.format;
  if (k.weight !== weight) return `${k.id}: ${k.weight} weights only`;
  if (!(k.bits as number[]).includes(spec.bits)) return `${k.id}: ${k.bits.join('/')} bits only`;
  if (!k.activations.includes(act)) return `${k.id}: ${k.activations.join('/')} activations only`;
  if (hw.sm < k.minSm) return `${k.id}: needs SM ≥ ${(k.minSm / 10).toFixed(1)}`;
  if (spec.bits === 16) return null;
  if (k.groupSizes && !k.groupSizes.includes(spec.groupSize)) return `${k.id}: group ${spec.groupSize} not in ${groupLabel(k.groupSizes)}`;
  if (spec.format === 'int' && !spec.symmetric && !k.asymmetricBits.includes(spec.bits)) return `${k.id}: no zero points at ${spec.bits} bits`;
  if (shard === null) return null;
  if (typeof spec.groupSize === 'number' && shard.inFeatures % spec.groupSize !== 0) return `${k.id}: shard K ${shard.inFeatures} not a multiple of group ${spec.groupSize}`;
  if (shard.outFeatures % k.nMultiple !== 0) return `${k.id}: shard N ${shard.outFeatures} not a multiple of ${k.nMultiple}`;
  if (shard.inFeatures % k.kMultiple !== 0) return `${k.id}: shard K ${shard.inFeatures} not a multiple of ${k.kMultiple}`;
  return null;
}

const FEATURE_LABEL = {
  rotation: 'Hadamard rotation',
  outliers: 'sparse fp16 outliers',
  'awq-unshared-scales': 'a per-module AWQ scale vector on a shared input (use method.scales: shared-input)',
  'awq-gqa-output': 'AWQ scales on attn_o: with grouped KV heads they cannot fold into v_proj',
  'awq-rotated': 'AWQ scales behind an online Hadamard rotation (they live in the rotated basis, after the op before the layer)',
} as const;

export function hasFeature(
  feature: keyof typeof FEATURE_LABEL,
  m: Pick<LinearModule, 'role' | 'projection' | 'layer'>,
  spec: QuantSpec,
  heads?: AttentionHeads,
): boolean {
  if (spec.bits === 16) return false;
  if (feature === 'rotation') return spec.rotation !== undefined;
  if (feature === 'outliers') return spec.outliers !== undefined;
  if (spec.method.kind !== 'awq') return false;
  if (feature === 'awq-rotated') return spec.rotation !== undefined;
  if (feature === 'awq-gqa-output') return m.role === 'attn_o' && heads !== undefined && heads.numAttentionHeads !== heads.numKeyValueHeads;
  return sharedInputOf(m) !== null && !awqSharesScales(spec.method);
}

/** The stack's verdict on one module: the kernel that serves it, or every rule it breaks. */
export function checkModuleOnStack(
  table: ServingStackTable,
  checkpoint: CheckpointFormat,
  hw: HardwareProfile,
  m: LinearModule,
  spec: QuantSpec,
  act: ActivationFormat,
  shard: Shard,
  /** The model's heads, for the rule on attn_o's AWQ scales under grouped KV heads. */
  heads?: AttentionHeads,
): StackVerdict {
  const kind = moduleKindOf(m);
  const label = formatLabel(spec, act);
  const failures: StackFailure[] = [];
  let kernel: string | null = null;
  for (const rule of table.rules) {
    if (rule.kind === 'checkpoint' && rule.format === checkpoint && spec.bits !== 16) {
      const bitsOk = (rule.bits as number[]).includes(spec.bits) && spec.format === 'int';
      if (!bitsOk || (rule.symmetricOnly && !spec.symmetric)) {
        const need = `${rule.bits.join('/')}-bit int${rule.symmetricOnly ? ' symmetric' : ''}`;
        failures.push({ rule: rule.id, source: rule.provenance.source, reason: `${checkpoint} checkpoint stores ${need} weights only, not ${label}` });
      }
    } else if (rule.kind === 'checkpoint-limits' && rule.format === checkpoint && spec.bits !== 16) {
      if (rule.features.includes('rotation') && spec.rotation !== undefined) {
        failures.push({ rule: rule.id, source: rule.provenance.source, reason: `the ${checkpoint} checkpoint evoquant writes carries no Hadamard rotation` });
      }
      if (rule.features.includes('quantized-activations') && act !== 'bf16') {
        failures.push({ rule: rule.id, source: rule.provenance.source, reason: `the ${checkpoint} checkpoint evoquant writes is weight-only, not ${label}` });
      }
    } else if (rule.kind === 'kernels' && rule.moduleKind === kind) {
      const misses: string[] = [];
      for (const k of rule.kernels) {
        const miss = kernelMiss(k, hw, spec, act, shard);
        if (miss === null) {
          kernel = k.id;
          break;
        }
        misses.push(miss);
      }
      if (kernel === null) {
        // Name the kernels of the module's weight format: those are the ones that came close.
        const weight = spec.bits === 16 ? 'bf16' : spec.format;
        const near = rule.kernels.filter((k) => k.weight === weight);
        const why = near.length ? near.map((k) => misses[rule.kernels.indexOf(k)]).join('; ') : 'no kernel for the format';
        failures.push({ rule: rule.id, source: near[0]?.provenance.source ?? rule.provenance.source, reason: `no ${kind} kernel for ${label} on SM ${(hw.sm / 10).toFixed(1)} (${why})` });
      }
    } else if (rule.kind === 'unsupported' && rule.moduleKinds.includes(kind) && hasFeature(rule.feature, m, spec, heads)) {
      failures.push({ rule: rule.id, source: rule.provenance.source, reason: `no ${kind} format for ${FEATURE_LABEL[rule.feature]}` });
    }
  }
  if (failures.length > 0) return { ok: false, failures };
  return { ok: true, kernel: kernel ?? 'none' };
}

/** The scheme fused modules must share: what a checkpoint stores for them and a kernel reads. */
export function schemeOf(spec: QuantSpec): string {
  if (spec.bits === 16) return 'bf16';
  const g = spec.groupSize === 'channel' ? 'channel' : `g${spec.groupSize}`;
  return `${spec.format}${spec.bits} ${g}${spec.format === 'fp8' ? '' : spec.symmetric ? ' sym' : ' asym'}`;
}

type SameSchemeRule = Extract<StackRule, { kind: 'same-scheme' }>;

/** The fused group a module belongs to under a rule, or null when the rule does not cover it. */
function fusedGroupOf(group: SameSchemeRule['group'], m: LinearModule): string | null {
  if (m.layer === null) return null;
  switch (group) {
    case 'layer-experts':
      return m.expert !== null ? `${m.layer}` : null;
    case 'expert-tensor':
      return m.expert !== null ? `${m.layer}|${m.role}` : null;
    case 'qkv':
      return m.role === 'attn_q' || m.role === 'attn_k' || m.role === 'attn_v' ? `${m.layer}` : null;
    case 'gate-up':
      return m.expert === null && (m.role === 'dense_mlp' || m.role === 'shared_expert') && (m.projection === 'gate' || m.projection === 'up') ? `${m.layer}|${m.role}` : null;
  }
}

interface FusedGroup {
  layer: number;
  schemes: Set<string>;
  /** Scheme sets per role: more than one scheme within a role means per-expert tiers. */
  byRole: Map<ModuleRole, Set<string>>;
  modules: number;
}

/** One violation per shared-scheme rule, covering every layer whose fused group mixes schemes. */
export function sameSchemeViolations(
  table: ServingStackTable,
  modules: readonly LinearModule[],
  specOf: (m: LinearModule) => QuantSpec,
): Violation[] {
  const out: Violation[] = [];
  for (const rule of table.rules) {
    if (rule.kind !== 'same-scheme') continue;
    const groups = new Map<string, FusedGroup>();
    for (const m of modules) {
      const key = fusedGroupOf(rule.group, m);
      if (key === null || m.layer === null) continue;
      const scheme = schemeOf(specOf(m));
      const g = groups.get(key) ?? { layer: m.layer, schemes: new Set<string>(), byRole: new Map<ModuleRole, Set<string>>(), modules: 0 };
      g.schemes.add(scheme);
      const roleSet = g.byRole.get(m.role) ?? new Set<string>();
      roleSet.add(scheme);
      g.byRole.set(m.role, roleSet);
      g.modules += 1;
      groups.set(key, g);
    }
    const mixed = [...groups.values()].filter((g) => g.schemes.size > 1);
    if (mixed.length === 0) continue;
    const layers = [...new Set(mixed.map((g) => g.layer))].sort((a, b) => a - b);
    const perExpertTiers = (rule.group === 'layer-experts' || rule.group === 'expert-tensor') && mixed.some((g) => [...g.byRole.values()].some((s) => s.size > 1));
    const roles = [...new Set(mixed.flatMap((g) => [...g.byRole.keys()]))].sort();
    const schemes = [...new Set(mixed.flatMap((g) => [...g.schemes]))].sort();
    const what = perExpertTiers ? 'per-expert bit tiers inside a layer' : `${roles.join('/')} with different schemes`;
    const first = layers[0];
    const last = layers[layers.length - 1];
    const span = first === last ? `layer ${first}` : `${layers.length} layers (${first}–${last})`;
    out.push(
      notServable(table, rule.id, rule.provenance.source, `${what}: ${schemes.join(' + ')} in ${span}; the stack runs one scheme per fused group`, {
        modules: mixed.reduce((s, g) => s + g.modules, 0),
        layers: layers.length,
        firstLayer: first,
        lastLayer: last,
        roles: roles.join(','),
        schemes: schemes.join(' + '),
        perExpertTiers,
      }),
    );
  }
  return out;
}

/** Where a module's s lives when it takes a shared AWQ scale: the α grid and the basis (rotation). */
function sharedBasis(spec: QuantSpec): string | null {
  if (spec.bits === 16 || spec.format !== 'int' || spec.method.kind !== 'awq' || !awqSharesScales(spec.method)) return null;
  return JSON.stringify({ grid: spec.method.scaleGrid, rotation: spec.rotation ?? null });
}

/**
 * A shared AWQ scale folds into the norm, so every quantized module reading that norm is stored as
 * W·diag(s): one that is quantized without it (another method) or with another s (another α grid
 * or rotation) would be served as a different model than the one measured. One violation per rule.
 */
export function sharedInputAwqViolations(table: ServingStackTable, modules: readonly LinearModule[], specOf: (m: LinearModule) => QuantSpec): Violation[] {
  const rules = table.rules.filter((r) => r.kind === 'unsupported' && r.feature === 'awq-unshared-scales');
  if (rules.length === 0) return [];
  interface Input { layer: number; bases: Set<string>; others: LinearModule[]; members: number }
  const inputs = new Map<string, Input>();
  for (const m of modules) {
    const key = sharedInputOf(m);
    if (key === null || m.layer === null) continue;
    const spec = specOf(m);
    if (spec.bits === 16) continue;
    const g = inputs.get(key) ?? { layer: m.layer, bases: new Set<string>(), others: [], members: 0 };
    const basis = sharedBasis(spec);
    if (basis !== null) {
      g.bases.add(basis);
      g.members += 1;
    } else if (spec.method.kind !== 'awq') {
      // Per-module AWQ is reported module by module (awq-unshared-scales).
      g.others.push(m);
    }
    inputs.set(key, g);
  }
  const bad = [...inputs.values()].filter((g) => g.bases.size > 1 || (g.bases.size === 1 && g.others.length > 0));
  if (bad.length === 0) return [];
  const layers = [...new Set(bad.map((g) => g.layer))].sort((a, b) => a - b);
  const others = bad.flatMap((g) => g.others);
  const roles = [...new Set(others.map((m) => m.role))].sort();
  const split = bad.some((g) => g.bases.size > 1);
  const what = [
    ...(others.length ? [`${roles.join('/')} quantized without the shared AWQ scale of their input`] : []),
    ...(split ? ['modules of one input with different AWQ scale grids or rotations'] : []),
  ].join('; ');
  const first = layers[0];
  const last = layers[layers.length - 1];
  const span = first === last ? `layer ${first}` : `${layers.length} layers (${first}–${last})`;
  return rules.map((rule) =>
    notServable(table, rule.id, rule.provenance.source, `${what} in ${span}; the norm folds one s for every module that reads it`, {
      modules: others.length + bad.reduce((s, g) => s + g.members, 0),
      layers: layers.length,
      firstLayer: first,
      lastLayer: last,
      roles: roles.join(','),
    }),
  );
}

/**
 * A recipe that prunes or merges experts on a checkpoint evoquant cannot write with fewer experts.
 * The stacks themselves serve such a model (one expert count per model); the limit is the writer's.
 */
export function expertReductionViolations(table: ServingStackTable, checkpoint: CheckpointFormat, recipe: Pick<Recipe, 'expertReduction'>): Violation[] {
  const reduction = recipe.expertReduction;
  if (!reduction) return [];
  return table.rules.flatMap((rule) =>
    rule.kind === 'checkpoint-limits' && rule.format === checkpoint && rule.features.includes('expert-reduction')
      ? [notServable(table, rule.id, rule.provenance.source, `the ${checkpoint} checkpoint evoquant writes keeps every expert: no expert ${reduction.mode === 'prune' ? 'pruning' : 'merging'}`, { checkpoint })]
      : [],
  );
}

/** What of the recipe's KV policy the stack cannot cache: one violation per refused gene, naming the rule. */
export function kvCacheViolations(table: ServingStackTable, policy: KvPolicy, numLayers: number): Violation[] {
  return table.rules.flatMap((rule) =>
    rule.kind === 'kv-cache'
      ? kvPolicyFailures(rule, policy, numLayers).map((reason) => notServable(table, rule.id, rule.provenance.source, `kv cache: ${reason}`, { kvCache: kvPolicyLabel(policy) }))
      : [],
  );
}

export function notServable(
  table: ServingStackTable,
  rule: string,
  source: string,
  what: string,
  detail: Violation['detail'],
  role?: ModuleRole,
): Violation {
  return {
    code: 'not-servable',
    ...(role ? { role } : {}),
    message: `not servable on ${table.stack} ${table.version}: ${role ? `${role}: ` : ''}${what} [${rule}; ${source}]`,
    detail: { ...detail, rule, stack: table.stack, version: table.version, source },
  };
}
