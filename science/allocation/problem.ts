// The allocation problem: which scheme each (proxy layer, role group) gets, priced in predicted loss
// (the sensitivity profile, measured on the proxy) and in bytes per GPU (the target, as compile
// counts them).
//
// Decision groups follow the serving stack's shared-scheme rules, so any choice is servable by
// construction: per proxy layer q/k/v together (fused qkv), o alone, the router alone, and all the
// layer's routed experts with gate/up/down together (one fused-MoE scheme per layer); the
// embeddings and lm_head once each. Roles the proxy has no measurement for (dense or shared-expert
// MLPs of other families) stay bf16 and count as fixed bytes.
//
// Transfer by relative depth: proxy layer i of n owns the band [i/n, (i+1)/n); target layer j of N
// takes the band holding j/N, exactly as a recipe's depth band resolves (schema/recipe.ts), so the
// emitted recipe gives every target layer the scheme its proxy layer was priced at.
//
// Cost model (an assumption, checked by the allocation report): the loss of quantizing several
// blocks together is the sum of the KLs each block causes alone. KL is second order in a small
// perturbation of the logits, and errors of different blocks are independent rounding noise, so
// cross terms vanish in expectation; they do not for large errors (2-bit), where the sum drifts.
import type { CompileReport } from '../../schema/compile-report.js';
import { InvalidDeploymentError, parseTarget, type TargetInput } from '../../schema/deployment.js';
import type { ModelArchitecture } from '../../schema/model-config.js';
import { parseRecipe, QuantSpec, type ModuleRole, type Recipe, type WeightBits } from '../../schema/recipe.js';
import type { SensitivityProfile } from '../../schema/sensitivity.js';
import type { CheckpointFormat, ServingStackId } from '../../schema/serving-stack.js';
import { getServingStack } from '../serving-stacks/index.js';
import { getHardwareProfile } from '../hardware/profiles.js';
import { loadModelConfig } from '../model-configs/load.js';
import { compile } from '../physics/compile.js';
import { enumerateModules, type LinearModule } from '../physics/modules.js';
import { shardOf } from '../physics/sharding.js';
import { BF16_BYTES, breakdownTotal, matrixBytes } from '../physics/weight-bytes.js';

export const GROUP_KINDS = ['qkv', 'attn_o', 'router', 'experts', 'embeddings', 'lm_head'] as const;
export type GroupKind = (typeof GROUP_KINDS)[number];

/** The roles a recipe must address to set a group's scheme. */
export const GROUP_ROLES: Record<GroupKind, readonly ModuleRole[]> = {
  qkv: ['attn_q', 'attn_k', 'attn_v'],
  attn_o: ['attn_o'],
  router: ['router'],
  experts: ['expert_gate', 'expert_up', 'expert_down'],
  embeddings: ['embeddings'],
  lm_head: ['lm_head'],
};

const KIND_OF_ROLE: Partial<Record<ModuleRole, GroupKind>> = Object.fromEntries(
  GROUP_KINDS.flatMap((k) => GROUP_ROLES[k].map((r) => [r, k] as const)),
);

export interface AllocationOption {
  bits: WeightBits;
  /** Predicted loss: the profile's KL (bits per byte) summed over the group's proxy blocks. */
  cost: number;
  /** Stored bytes on the fullest GPU of the target's modules this group decides. */
  bytesPerGpu: number;
}

export interface AllocationGroup {
  kind: GroupKind;
  /** Null for the embeddings and lm_head. */
  proxyLayer: number | null;
  /** Target layers that inherit the choice (by relative depth). */
  targetLayers: number[];
  /** Servable options only, bf16 always among them. */
  options: AllocationOption[];
}

export interface AllocationTarget {
  model: string;
  hardware: string;
  gpus: number;
  tensorParallel: number;
  contextLength?: number | undefined;
  batch?: number | undefined;
  stack: ServingStackId;
}

export interface AllocationProblem {
  target: AllocationTarget;
  arch: ModelArchitecture;
  proxyLayers: number;
  /** The grid the profile measured (RTN, asymmetric, this group size): the recipe uses the same. */
  groupSize: 32 | 64 | 128 | 256;
  groups: AllocationGroup[];
  /** Bytes per GPU no choice changes: norms, undecided roles, KV cache, runtime overhead. */
  fixedBytesPerGpu: number;
  capacityBytes: number;
  /** Bits that were measured but that the stack serves for no group (e.g. 2/3-bit dense layers on vLLM). */
  unservable: Array<{ kind: GroupKind; bits: WeightBits; reason: string }>;
}

/** A module's stored bytes on one GPU, as compile's modulePricer counts its shard. */
export function shardBytes(m: LinearModule, arch: ModelArchitecture, tp: number, spec: QuantSpec, checkpoint: CheckpointFormat): number {
  const s = shardOf(m, arch, tp);
  return breakdownTotal(matrixBytes(s.outFeatures, s.inFeatures, spec, checkpoint)) + s.biasParams * BF16_BYTES;
}

/** The proxy layer whose depth band [i/n, (i+1)/n) holds target layer j of N, as resolveSpec tests it. */
export function proxyLayerOf(j: number, targetLayers: number, proxyLayers: number): number {
  const depth = j / Math.max(1, targetLayers);
  for (let i = 0; i < proxyLayers; i++) if (depth >= i / proxyLayers && depth < (i + 1) / proxyLayers) return i;
  return proxyLayers - 1;
}

export function specOfBits(bits: WeightBits, groupSize: AllocationProblem['groupSize']): QuantSpec {
  return QuantSpec.parse({ bits, format: 'int', groupSize, symmetric: false, method: { kind: 'rtn' } });
}

function uniformRecipe(bits: WeightBits, groupSize: AllocationProblem['groupSize']): Recipe {
  return parseRecipe({ name: `allocation-probe-${bits}`, default: specOfBits(bits, groupSize) });
}

export function compileFor(t: AllocationTarget, recipe: Recipe): CompileReport {
  return compile({
    model: loadModelConfig(t.model),
    hardware: getHardwareProfile(t.hardware),
    deployment: { gpus: t.gpus, tensorParallel: t.tensorParallel, contextLength: t.contextLength, batch: t.batch },
    recipe,
    stack: t.stack,
  });
}

/** Per measured width: the roles the stack refuses at it (from compile itself, on a uniform recipe). */
function refusedRoles(t: AllocationTarget, bitsList: readonly WeightBits[], groupSize: AllocationProblem['groupSize']): Map<WeightBits, Map<ModuleRole | '*', string>> {
  const out = new Map<WeightBits, Map<ModuleRole | '*', string>>();
  for (const bits of bitsList) {
    const refused = new Map<ModuleRole | '*', string>();
    for (const v of compileFor(t, uniformRecipe(bits, groupSize)).violations) {
      if (v.code === 'does-not-fit') continue;
      const key = v.role ?? '*';
      if (!refused.has(key)) refused.set(key, v.message);
    }
    out.set(bits, refused);
  }
  return out;
}

/** KL per (kind, proxy layer) at each width, summed over the group's blocks. */
function groupCosts(profile: SensitivityProfile): Map<string, Record<string, number>> {
  const costs = new Map<string, Record<string, number>>();
  const add = (key: string, klBits: Record<string, number>): void => {
    const into = costs.get(key) ?? {};
    for (const [b, kl] of Object.entries(klBits)) into[b] = (into[b] ?? 0) + kl;
    costs.set(key, into);
  };
  for (const e of profile.entries) {
    if (e.block.kind === 'expert') {
      if (e.block.layer !== null) add(`experts|${e.block.layer}`, e.klBits);
    } else if (e.block.role !== null) {
      const kind = KIND_OF_ROLE[e.block.role];
      if (kind) add(`${kind}|${e.block.layer}`, e.klBits);
    }
  }
  return costs;
}

export interface ProblemInput {
  target: Omit<AllocationTarget, 'stack'> & { stack?: string | undefined };
  profile: SensitivityProfile;
}

export function buildProblem(input: ProblemInput): AllocationProblem {
  const parsed = parseTarget({ ...input.target, stack: input.target.stack ?? 'vllm' });
  if (parsed.gpus !== parsed.tensorParallel) {
    throw new InvalidDeploymentError('target.gpus', `allocate plans tensor parallelism only: gpus ${parsed.gpus} must equal tensorParallel ${parsed.tensorParallel}`);
  }
  const target: AllocationTarget = {
    model: parsed.model,
    hardware: parsed.hardware,
    gpus: parsed.gpus,
    tensorParallel: parsed.tensorParallel,
    contextLength: parsed.contextLength,
    batch: parsed.batch,
    stack: parsed.stack ?? 'vllm',
  };
  const arch = loadModelConfig(target.model);
  const hw = getHardwareProfile(target.hardware);
  // Bytes as the stack's default checkpoint stores them, as compile counts them.
  const checkpoint = getServingStack(target.stack).checkpoints[0];
  const { profile } = input;
  const groupSize = profile.groupSize as AllocationProblem['groupSize'];
  const proxyLayers = profile.routingFrequency.length;
  const measured = profile.bits.filter((b): b is WeightBits => b === 2 || b === 3 || b === 4 || b === 8);
  const refused = refusedRoles(target, [16, ...measured], groupSize);
  const base = refused.get(16)!;
  if (base.size > 0) throw new InvalidDeploymentError('target', `not servable even in bf16: ${[...base.values()][0]}`);

  // Target modules by group, priced per GPU at each width.
  const key = (kind: GroupKind, layer: number | null): string => `${kind}|${layer}`;
  const modulesOf = new Map<string, LinearModule[]>();
  const layersOf = new Map<string, Set<number>>();
  for (const m of enumerateModules(arch)) {
    const kind = KIND_OF_ROLE[m.role];
    if (!kind || m.tied) continue;
    const pl = m.layer === null ? null : proxyLayerOf(m.layer, arch.numLayers, proxyLayers);
    const k = key(kind, pl);
    const list = modulesOf.get(k) ?? [];
    list.push(m);
    modulesOf.set(k, list);
    if (m.layer !== null) layersOf.set(k, (layersOf.get(k) ?? new Set<number>()).add(m.layer));
  }
  const priceCache = new Map<string, number>();
  const price = (ms: readonly LinearModule[], bits: WeightBits): number => {
    const spec = specOfBits(bits, groupSize);
    let total = 0;
    for (const m of ms) {
      const pk = `${bits}|${m.projection}|${m.parallel}|${m.inFeatures}|${m.outFeatures}|${m.biasParams}`;
      let b = priceCache.get(pk);
      if (b === undefined) priceCache.set(pk, (b = shardBytes(m, arch, target.tensorParallel, spec, checkpoint)));
      total += b;
    }
    return total;
  };

  const costs = groupCosts(profile);
  const unservable: AllocationProblem['unservable'] = [];
  const groups: AllocationGroup[] = [];
  const slots: Array<[GroupKind, number | null]> = [['embeddings', null]];
  for (let i = 0; i < proxyLayers; i++) for (const kind of ['qkv', 'attn_o', 'router', 'experts'] as const) slots.push([kind, i]);
  slots.push(['lm_head', null]);
  for (const [kind, layer] of slots) {
    const measuredKl = costs.get(key(kind, layer));
    if (!measuredKl) throw new InvalidDeploymentError('profile', `the sensitivity profile has no ${kind} block${layer === null ? '' : ` in layer ${layer}`}`);
    const ms = modulesOf.get(key(kind, layer)) ?? [];
    const options: AllocationOption[] = [{ bits: 16, cost: 0, bytesPerGpu: price(ms, 16) }];
    for (const bits of measured) {
      const why = GROUP_ROLES[kind].map((r) => refused.get(bits)!.get(r)).find((w) => w !== undefined) ?? refused.get(bits)!.get('*');
      if (why !== undefined) {
        // Once per kind: compile judges a role in all its layers at once, so every layer shares the verdict.
        if (layer === null || layer === 0) unservable.push({ kind, bits, reason: why });
        continue;
      }
      const kl = measuredKl[String(bits)];
      if (kl === undefined) throw new InvalidDeploymentError('profile', `the sensitivity profile has no ${bits}-bit measurement for ${kind}`);
      options.push({ bits, cost: kl, bytesPerGpu: price(ms, bits) });
    }
    groups.push({ kind, proxyLayer: layer, targetLayers: [...(layersOf.get(key(kind, layer)) ?? [])].sort((a, b) => a - b), options });
  }

  const bf16Report = compileFor(target, uniformRecipe(16, groupSize));
  const decidedBf16 = groups.reduce((s, g) => s + g.options[0].bytesPerGpu, 0);
  return {
    target,
    arch,
    proxyLayers,
    groupSize,
    groups,
    fixedBytesPerGpu: bf16Report.perGpu.totalBytes - decidedBf16,
    capacityBytes: hw.memoryBytes,
    unservable,
  };
}
