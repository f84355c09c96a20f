// AWQ with one scale vector per shared input. A served checkpoint has no per-input-channel scale
// tensor: AWQ's s must fold into the op that produces the input (the norm before q/k/v, the norm
// before a layer's router and experts). Every module reading that input then sees x/s, so they
// must all take the same s. This file groups a plan's modules by the input they share and searches
// that one s jointly, as llm-compressor's AWQ mappings do (input_layernorm → q/k/v;
// post_attention_layernorm → the router and every expert's gate/up for Qwen-MoE and Mixtral).
import { awqSharesScales, type QuantSpec } from '../../schema/recipe.js';
import { siteKey, type CalibrationSite } from '../model/calibration-site.js';
import type { ProxyModule } from '../model/modules.js';
import { awqSearchSharedScales, type AwqMember, type SharedScaleSearch } from '../quantization/awq.js';
import { HadamardRotation } from '../quantization/hadamard.js';
import { prepareLinear } from '../quantization/quantize-linear.js';
import type { CalibrationSet } from './calibration.js';

/**
 * The input a module shares with other modules, or null when it has its own: attn_o reads the
 * attention output and expert_down its expert's hidden state, so their s folds into v_proj's or
 * up_proj's rows instead (see the serving-stack tables for when that fold exists).
 */
export function sharedInputOf(module: ProxyModule): CalibrationSite | null {
  if (module.layer === null) return null;
  switch (module.role) {
    case 'attn_q':
    case 'attn_k':
    case 'attn_v':
      return { kind: 'attention_input', layer: module.layer };
    case 'expert_gate':
    case 'expert_up':
    case 'router':
      return { kind: 'moe_input', layer: module.layer };
    // A dense layer's gate and up read post_attention_layernorm's output; its down reads its own.
    case 'dense_mlp':
      return module.calibration?.kind === 'mlp_input' ? { kind: 'mlp_input', layer: module.layer } : null;
    default:
      return null;
  }
}

export interface PlannedModule {
  module: ProxyModule;
  spec: QuantSpec;
}

/** Modules of one shared input that take a shared AWQ scale, by their index in the plan. */
export interface SharedInputGroup {
  site: CalibrationSite;
  /** The α grid and rotation the members share (the basis s lives in). */
  basis: string;
  members: number[];
}

function takesSharedScale(spec: QuantSpec): boolean {
  return spec.bits !== 16 && spec.format === 'int' && awqSharesScales(spec.method);
}

/** What one search needs its members to agree on besides the input: the α grid and the basis of s. */
function searchBasis(spec: QuantSpec): string {
  const grid = spec.method.kind === 'awq' ? spec.method.scaleGrid : 0;
  return JSON.stringify({ grid, rotation: spec.rotation ?? null });
}

/**
 * The plan's shared-input groups, in plan order. Modules of the input kept in bf16 fold s exactly
 * and are left out; a module with its own input (attn_o, expert_down) keeps a per-module search.
 * Modules of one input with different α grids or rotations get one search each: the reference
 * executor runs that research design, and real stacks refuse it (their s would not be one vector).
 */
export function sharedInputGroups(plan: readonly PlannedModule[]): SharedInputGroup[] {
  const groups = new Map<string, SharedInputGroup>();
  plan.forEach(({ module, spec }, i) => {
    const site = sharedInputOf(module);
    if (site === null || !takesSharedScale(spec)) return;
    const basis = searchBasis(spec);
    const key = `${siteKey(site)}|${basis}`;
    const g = groups.get(key) ?? { site, basis, members: [] };
    g.members.push(i);
    groups.set(key, g);
  });
  return [...groups.values()];
}

/**
 * Searches the group's shared s: mean|x| of the shared input (all its tokens), loss summed over the
 * members, each on the rows it multiplies (an expert: the tokens routed to it).
 */
export async function searchSharedScales(
  plan: readonly PlannedModule[],
  group: SharedInputGroup,
  weights: { tensors: ReadonlyMap<string, Float32Array> },
  calibration: CalibrationSet,
): Promise<SharedScaleSearch> {
  const where = siteKey(group.site);
  const first = plan[group.members[0]].spec;
  const members: AwqMember[] = [];
  for (const i of group.members) {
    const { module, spec } = plan[i];
    if (searchBasis(spec) !== group.basis) throw new RangeError(`shared AWQ scales on ${where}: ${module.tensor} is not of the group's basis ${group.basis}`);
    const weight = weights.tensors.get(module.tensor);
    if (!weight) throw new Error(`quantize: model has no tensor ${module.tensor}`);
    const stats = module.calibration ? calibration.stats.get(siteKey(module.calibration)) ?? null : null;
    const { w, calib, outliers } = prepareLinear(weight, module.outFeatures, module.inFeatures, stats, spec, module.tensor);
    if (!calib) throw new Error(`unreachable: AWQ without calibration for ${module.tensor}`);
    members.push({ w, outFeatures: module.outFeatures, samples: calib.samples(), rows: calib.sampleCount, bits: spec.bits, groupSize: spec.groupSize, symmetric: spec.symmetric, outlierMask: outliers?.mask ?? null });
  }
  let shared = calibration.stats.get(where);
  if (!shared || shared.count === 0) throw new RangeError(`shared AWQ scales on ${where}: no calibration of the shared input`);
  if (first.rotation) shared = new HadamardRotation(shared.inFeatures, first.rotation.seed, first.rotation.blockSize).rotateStats(shared);
  const scaleGrid = first.method.kind === 'awq' ? first.method.scaleGrid : 0;
  return awqSearchSharedScales(members, shared.meanAbs(), scaleGrid);
}
