// compile: recipe × model × hardware × deployment → exact bytes, fit, decode speed and violations.
// Every number is derived from the module enumeration; nothing is estimated from totals.
import type { CompileReport, KernelUse, OverheadComponent, Violation } from '../../schema/compile-report.js';
import { InvalidDeploymentError, parseDeployment, parseTarget, pipelineStages, type Deployment, type DeploymentInput, type TargetInput } from '../../schema/deployment.js';
import type { ActivationFormat, HardwareProfile } from '../../schema/hardware.js';
import type { ModelArchitecture } from '../../schema/model-config.js';
import { DEFAULT_STACK, type CheckpointFormat, type ServingStackId, type ServingStackTable } from '../../schema/serving-stack.js';
import { MODULE_ROLES, type ModuleRole, type QuantSpec, type Recipe, LONG_CONTEXT_ORDER, ordersByLongContext } from '../../schema/recipe.js';
import { getHardwareProfile } from '../hardware/profiles.js';
import { loadModelConfig } from '../model-configs/load.js';
import { getServingStack } from '../serving-stacks/index.js';
import { activationOf, checkKernel, type KernelVerdict } from './kernel-check.js';
import { kvBands, kvBytesPerGpu, kvBytesPerToken, kvHeadsPerGpu, kvPolicyLabel, kvTotalBytes } from './kv-cache.js';
import { enumerateModules, normParameters, type LinearModule } from './modules.js';
import { runtimeOverhead } from './overhead.js';
import { countParameters, zeroPerRole, type ParameterCount, type RoleRecord } from './parameters.js';
import { decodeRoofline, emptyTraffic, expertTouchProbability, type StageTraffic } from './roofline.js';
import { parallelismViolations, pipelineLayout, shardOf, stageOfModule, type PipelineStage, type Shard } from './sharding.js';
import { checkModuleOnStack, expertReductionViolations, kvCacheViolations, notServable, sameSchemeViolations, sharedInputAwqViolations, type StackVerdict } from './serving-check.js';
import { createSpecResolver, type SpecResolver } from './specs.js';
import { addBreakdown, BF16_BYTES, breakdownTotal, emptyBreakdown, matrixBytes, outlierCount, type ByteBreakdown, type BytesWhere } from './weight-bytes.js';
import { sortViolations } from './violations.js';
import { reduceArchitecture, type ReducedArchitecture } from './expert-reduction.js';

export interface CompileInput {
  model: ModelArchitecture;
  hardware: HardwareProfile;
  /** Validated here: contextLength defaults to 4096 and batch to 1. */
  deployment: DeploymentInput;
  recipe: Recipe;
  /** Expert rank within its layer (0 = hottest); defaults to the expert index. */
  expertRank?: (layer: number, expert: number) => number;
  /** Layer rank by its experts' sensitivity (0 = most sensitive), for `expertLayers` tiers; defaults to depth. */
  layerRank?: (layer: number) => number;
  /** The serving stack whose rules the recipe must respect (default: vllm, DEFAULT_STACK). */
  stack?: ServingStackId;
  /** The checkpoint format the stack loads it from (default: the stack's first). */
  checkpoint?: CheckpointFormat;
}

/** Bytes of one module (or shard) as stored: the quantized matrix plus its bf16 bias. */
function storedBytes(rows: number, cols: number, biasParams: number, spec: QuantSpec, checkpoint: CheckpointFormat, where: BytesWhere = 'gpu'): ByteBreakdown {
  const b = matrixBytes(rows, cols, spec, checkpoint, where);
  b.bf16 += biasParams * BF16_BYTES;
  return b;
}

interface ModuleCost {
  full: ByteBreakdown;
  fullTotal: number;
  /** The module's bytes in the checkpoint file (differs from GPU memory for compressed-tensors). */
  fileTotal: number;
  shard: Shard;
  /** Stored bytes of the shard one GPU holds. */
  shardBytes: number;
  act: ActivationFormat;
  verdict: KernelVerdict | null;
  /** Null on a stack without rules (reference). */
  stackVerdict: StackVerdict | null;
}

/** Modules that break one stack rule for one reason, grouped like kernel failures. */
interface NotServableGroup {
  rule: string;
  source: string;
  role: ModuleRole;
  reason: string;
  modules: number;
  firstLayer: number | null;
  lastLayer: number | null;
}

interface FailureGroup {
  code: 'kernel-unsupported' | 'shard-shape';
  role: ModuleRole;
  reason: string;
  detail: Violation['detail'];
  modules: number;
  firstLayer: number | null;
  lastLayer: number | null;
}

function layerSpan(first: number | null, last: number | null): string {
  if (first === null || last === null) return '';
  return first === last ? ` in layer ${first}` : ` in layers ${first}–${last}`;
}

/** What every step reads: the validated deployment and the model's modules under the recipe. */
interface CompileContext {
  /** The model as deployed: with the recipe's expert pruning or merging applied. */
  arch: ModelArchitecture;
  /** The expert reduction, and the parameters of the model before it (the bf16 baseline). */
  reduction: ReducedArchitecture;
  originalParams: ParameterCount;
  hw: HardwareProfile;
  recipe: Recipe;
  d: Deployment;
  tp: number;
  pp: number;
  layout: PipelineStage[];
  modules: LinearModule[];
  params: ParameterCount;
  specOf: SpecResolver;
  /** Probability that a decode step reads a given expert, and tokens each expert sees per step. */
  expertTouch: number;
  tokensPerExpert: number;
  expertRanked: boolean;
  layerRanked: boolean;
  stack: ServingStackTable;
  checkpoint: CheckpointFormat;
}

/** Sums over the modules: stored bytes, per-stage weights and decode traffic, kernels and failures. */
interface ModuleTally {
  bytesByRole: RoleRecord;
  fileBytesByRole: RoleRecord;
  breakdown: ByteBreakdown;
  stageWeights: number[];
  traffic: StageTraffic[];
  kernelUse: Map<string, KernelUse>;
  failures: Map<string, FailureGroup>;
  notServable: Map<string, NotServableGroup>;
  expertFormats: Map<string, Set<string>>;
  rotated: number;
  outlierModules: number;
  outlierWeights: number;
  seeds: Set<number>;
}

/** Per-GPU memory: each pipeline stage's weights, KV cache and runtime overhead, and the fullest one. */
interface MemoryPlan {
  overheadComponents: OverheadComponent[];
  overheadPerGpu: number;
  stages: CompileReport['stages'];
  fullest: CompileReport['stages'][number];
  capacity: number;
  fits: boolean;
}

function compileContext(input: CompileInput): CompileContext {
  const { hardware: hw, recipe } = input;
  const reduction = reduceArchitecture(input.model, recipe);
  const arch = reduction.arch;
  const d = parseDeployment(input.deployment);
  const pp = pipelineStages(d);
  const modules = enumerateModules(arch, { ...(input.expertRank ? { expertRank: input.expertRank } : {}), ...(input.layerRank ? { layerRank: input.layerRank } : {}) });
  const moe = arch.moe;
  const stack = getServingStack(input.stack ?? DEFAULT_STACK);
  const checkpoint = input.checkpoint ?? stack.checkpoints[0];
  if (!stack.checkpoints.includes(checkpoint)) {
    throw new InvalidDeploymentError('target.checkpoint', `${stack.stack} loads ${stack.checkpoints.join(', ')}, not ${checkpoint}`);
  }
  const params = countParameters(arch, modules);
  return {
    arch,
    reduction,
    originalParams: reduction.removed > 0 ? countParameters(input.model) : params,
    hw,
    recipe,
    d,
    tp: d.tensorParallel,
    pp,
    layout: pipelineLayout(arch.numLayers, pp),
    modules,
    params,
    specOf: createSpecResolver(recipe, arch),
    expertTouch: moe ? expertTouchProbability(moe.numExperts, moe.numExpertsPerTok, d.batch) : 0,
    tokensPerExpert: moe ? (d.batch * moe.numExpertsPerTok) / moe.numExperts : 0,
    expertRanked: input.expertRank !== undefined,
    layerRanked: input.layerRank !== undefined,
    stack,
    checkpoint,
  };
}

interface PricedModule {
  spec: QuantSpec;
  specKey: string;
  cost: ModuleCost;
}

/** Module costs depend only on (spec, role, shape): 36k experts share a few dozen of them. */
function modulePricer(ctx: CompileContext): (m: LinearModule) => PricedModule {
  const { arch, hw, recipe, tp } = ctx;
  const specKeys = new Map<QuantSpec, string>();
  const costs = new Map<string, ModuleCost>();
  return (m) => {
    const spec = ctx.specOf(m);
    let specKey = specKeys.get(spec);
    if (specKey === undefined) {
      specKey = JSON.stringify(spec);
      specKeys.set(spec, specKey);
    }
    const key = `${specKey}|${m.role}|${m.projection}|${m.inFeatures}|${m.outFeatures}|${m.biasParams}|${m.tied}`;
    let cost = costs.get(key);
    if (!cost) {
      const full = storedBytes(m.outFeatures, m.inFeatures, m.biasParams, spec, ctx.checkpoint);
      const shard = shardOf(m, arch, tp);
      const act = activationOf(spec, recipe.activations);
      cost = {
        full,
        fullTotal: breakdownTotal(full),
        fileTotal: breakdownTotal(storedBytes(m.outFeatures, m.inFeatures, m.biasParams, spec, ctx.checkpoint, 'file')),
        shard,
        shardBytes: breakdownTotal(storedBytes(shard.outFeatures, shard.inFeatures, shard.biasParams, spec, ctx.checkpoint)),
        act,
        // Embeddings are a row gather (dequantized per row), not a GEMM: no kernel to check.
        verdict: m.projection === 'embed' ? null : checkKernel(hw, spec, recipe.activations, shard, m.inFeatures),
        stackVerdict: ctx.stack.rules.length === 0 ? null : checkModuleOnStack(ctx.stack, ctx.checkpoint, hw, m, spec, act, shard, arch),
      };
      costs.set(key, cost);
    }
    return { spec, specKey, cost };
  };
}

function emptyTally(ctx: CompileContext): ModuleTally {
  return {
    bytesByRole: zeroPerRole(),
    fileBytesByRole: zeroPerRole(),
    breakdown: emptyBreakdown(),
    stageWeights: ctx.layout.map(() => 0),
    traffic: ctx.layout.map(() => emptyTraffic()),
    kernelUse: new Map(),
    failures: new Map(),
    notServable: new Map(),
    expertFormats: new Map(),
    rotated: 0,
    outlierModules: 0,
    outlierWeights: 0,
    seeds: new Set(),
  };
}

/** The module's stored bytes, once per stored matrix (a tied lm_head is the embeddings' table). */
function tallyStorage(t: ModuleTally, m: LinearModule, { spec, cost }: PricedModule): void {
  if (m.tied) return;
  t.bytesByRole[m.role] += cost.fullTotal;
  t.fileBytesByRole[m.role] += cost.fileTotal;
  addBreakdown(t.breakdown, cost.full);
  if (spec.bits !== 16 && spec.outliers) {
    t.outlierModules += 1;
    t.outlierWeights += outlierCount(m.outFeatures, m.inFeatures, spec.outliers.fraction);
  }
  if (spec.bits !== 16 && spec.rotation) {
    t.rotated += 1;
    t.seeds.add(spec.rotation.seed);
  }
}

/** The shard one GPU of the module's stage holds, and what a decode step reads and computes of it. */
function tallyStage(ctx: CompileContext, t: ModuleTally, m: LinearModule, { cost }: PricedModule): void {
  const { shard, shardBytes } = cost;
  const stage = stageOfModule(m, ctx.layout);
  // A tied lm_head shares stage 0's table unless the pipeline puts it on another GPU.
  if (!m.tied || stage !== 0) t.stageWeights[stage] += shardBytes;
  const traffic = t.traffic[stage];
  if (m.projection === 'embed') {
    traffic.weightBytesRead += Math.min(1, ctx.d.batch / shard.outFeatures) * shardBytes;
  } else if (m.expert !== null) {
    traffic.weightBytesRead += ctx.expertTouch * shardBytes;
    traffic.flops[cost.act] += 2 * shard.inFeatures * shard.outFeatures * ctx.tokensPerExpert;
  } else {
    traffic.weightBytesRead += shardBytes;
    traffic.flops[cost.act] += 2 * shard.inFeatures * shard.outFeatures * ctx.d.batch;
  }
}

/** The formats of one (layer, expert role): more than one means a grouped-GEMM launch per format. */
function tallyExpertFormat(t: ModuleTally, m: LinearModule, specKey: string): void {
  if (m.expert === null || m.layer === null) return;
  const key = `${m.layer}|${m.role}`;
  const set = t.expertFormats.get(key) ?? new Set<string>();
  set.add(specKey);
  t.expertFormats.set(key, set);
}

function useKernel(t: ModuleTally, m: LinearModule, kernel: string): void {
  const key = `${m.role}|${kernel}`;
  const use = t.kernelUse.get(key) ?? { role: m.role, kernel, modules: 0 };
  use.modules += 1;
  t.kernelUse.set(key, use);
}

function widenSpan(g: { firstLayer: number | null; lastLayer: number | null }, layer: number | null): void {
  if (layer === null) return;
  g.firstLayer = g.firstLayer === null ? layer : Math.min(g.firstLayer, layer);
  g.lastLayer = g.lastLayer === null ? layer : Math.max(g.lastLayer, layer);
}

/**
 * The serving kernel a module uses, or every reason none can serve it (grouped by role and reason):
 * the GPU's limits (kernel-unsupported, shard-shape) and, on a stack with rules, each rule broken.
 * The GPU profile's kernel table is coarse: a stack's cited kernel for a format wins over its
 * absence there, while every other GPU limit (FP8 tensor cores, TP shard shapes) still applies.
 */
function tallyKernel(t: ModuleTally, m: LinearModule, verdict: KernelVerdict | null, stackVerdict: StackVerdict | null): void {
  const formatMissing = verdict?.ok === false && verdict.code === 'kernel-unsupported' && verdict.detail.kernel === null;
  const gpuFails = verdict?.ok === false && !(formatMissing && stackVerdict?.ok === true);
  if (verdict && !verdict.ok && gpuFails) {
    const key = `${verdict.code}|${m.role}|${verdict.reason}`;
    const g = t.failures.get(key) ?? { code: verdict.code, role: m.role, reason: verdict.reason, detail: verdict.detail, modules: 0, firstLayer: null, lastLayer: null };
    g.modules += 1;
    widenSpan(g, m.layer);
    t.failures.set(key, g);
  }
  if (stackVerdict && !stackVerdict.ok) {
    for (const f of stackVerdict.failures) {
      const key = `${f.rule}|${m.role}|${f.reason}`;
      const g = t.notServable.get(key) ?? { ...f, role: m.role, modules: 0, firstLayer: null, lastLayer: null };
      g.modules += 1;
      widenSpan(g, m.layer);
      t.notServable.set(key, g);
    }
    return;
  }
  if (gpuFails) return;
  if (stackVerdict) useKernel(t, m, stackVerdict.kernel);
  else if (verdict?.ok) useKernel(t, m, verdict.kernel);
}

function tallyModules(ctx: CompileContext): ModuleTally {
  const t = emptyTally(ctx);
  const price = modulePricer(ctx);
  for (const m of ctx.modules) {
    const priced = price(m);
    tallyStorage(t, m, priced);
    tallyStage(ctx, t, m, priced);
    tallyExpertFormat(t, m, priced.specKey);
    tallyKernel(t, m, priced.cost.verdict, priced.cost.stackVerdict);
  }
  return t;
}

/** RMSNorm weights: bf16, replicated on every GPU of the stage that holds their layer. Returns their bytes. */
function addNorms(ctx: CompileContext, t: ModuleTally): number {
  const norms = normParameters(ctx.arch);
  const normBytes = norms.total * BF16_BYTES;
  t.breakdown.bf16 += normBytes;
  ctx.layout.forEach((s, i) => {
    const layers = s.endLayer - s.firstLayer;
    const bytes = (layers * norms.perLayer + (i === ctx.layout.length - 1 ? norms.final : 0)) * BF16_BYTES;
    t.stageWeights[i] += bytes;
    t.traffic[i].weightBytesRead += bytes;
  });
  return normBytes;
}

/** KV cache, attention FLOPs over the context, and all-reduces per stage. Returns each stage's KV bytes per GPU. */
function addKvCache(ctx: CompileContext, t: ModuleTally): number[] {
  const { arch, d, tp, layout } = ctx;
  const headsPerGpu = Math.ceil(arch.numAttentionHeads / tp);
  return layout.map((s, i) => {
    const layers = s.endLayer - s.firstLayer;
    const kv = kvBytesPerGpu(arch, ctx.recipe.kvCache, s.firstLayer, s.endLayer, tp, d.contextLength, d.batch);
    t.traffic[i].kvBytesRead += kv;
    t.traffic[i].flops.bf16 += layers * 4 * headsPerGpu * arch.headDim * d.contextLength * d.batch;
    t.traffic[i].allReduces += 2 * layers + (i === 0 ? 1 : 0) + (i === layout.length - 1 ? 1 : 0);
    return kv;
  });
}

function memoryPlan(ctx: CompileContext, t: ModuleTally, stageKv: readonly number[]): MemoryPlan {
  const overheadComponents = runtimeOverhead(ctx.arch, ctx.d);
  const overheadPerGpu = overheadComponents.reduce((s, c) => s + c.bytesPerGpu, 0);
  const stages = ctx.layout.map((s, i) => ({
    stage: i,
    firstLayer: s.firstLayer,
    endLayer: s.endLayer,
    weightBytes: t.stageWeights[i],
    kvBytes: stageKv[i],
    overheadBytes: overheadPerGpu,
    totalBytes: t.stageWeights[i] + stageKv[i] + overheadPerGpu,
  }));
  const fullest = stages.reduce((a, b) => (b.totalBytes > a.totalBytes ? b : a));
  const capacity = ctx.hw.memoryBytes;
  return { overheadComponents, overheadPerGpu, stages, fullest, capacity, fits: fullest.totalBytes <= capacity };
}

function kernelViolations(ctx: CompileContext, failures: Iterable<FailureGroup>): Violation[] {
  return [...failures].map((g) => ({
    code: g.code,
    role: g.role,
    message: `${g.role}: ${g.reason} (${g.modules} module${g.modules === 1 ? '' : 's'}${layerSpan(g.firstLayer, g.lastLayer)})`,
    detail: { ...g.detail, modules: g.modules, firstLayer: g.firstLayer, lastLayer: g.lastLayer, tensorParallel: ctx.tp, hardware: ctx.hw.id },
  }));
}

/** What the target's serving stack cannot run: per-module rules, shared-scheme groups, the KV cache. */
function stackViolations(ctx: CompileContext, t: ModuleTally): Violation[] {
  const { stack } = ctx;
  if (stack.rules.length === 0) return [];
  const perModule = [...t.notServable.values()].map((g) =>
    notServable(stack, g.rule, g.source, `${g.reason} (${g.modules} module${g.modules === 1 ? '' : 's'}${layerSpan(g.firstLayer, g.lastLayer)})`, { modules: g.modules, firstLayer: g.firstLayer, lastLayer: g.lastLayer, hardware: ctx.hw.id }, g.role),
  );
  return [...perModule, ...sameSchemeViolations(stack, ctx.modules, ctx.specOf), ...sharedInputAwqViolations(stack, ctx.modules, ctx.specOf), ...(ctx.recipe.kvCache ? kvCacheViolations(stack, ctx.recipe.kvCache, ctx.arch.numLayers) : []), ...expertReductionViolations(stack, ctx.checkpoint, ctx.recipe)];
}

function doesNotFit(ctx: CompileContext, { fullest, capacity }: MemoryPlan): Violation {
  const { hw, d } = ctx;
  const gb = (n: number): string => `${(n / 1e9).toFixed(1)} GB`;
  return {
    code: 'does-not-fit',
    message: `does not fit: ${gb(fullest.totalBytes)} per GPU (weights ${gb(fullest.weightBytes)}, KV ${gb(fullest.kvBytes)}, overhead ${gb(fullest.overheadBytes)}) > ${gb(capacity)} on ${hw.id} ×${d.gpus}`,
    detail: {
      bytesPerGpu: fullest.totalBytes,
      capacityBytes: capacity,
      overByBytes: fullest.totalBytes - capacity,
      stage: fullest.stage,
      weightBytes: fullest.weightBytes,
      kvBytes: fullest.kvBytes,
      overheadBytes: fullest.overheadBytes,
      hardware: hw.id,
      gpus: d.gpus,
    },
  };
}

function violationsOf(ctx: CompileContext, t: ModuleTally, plan: MemoryPlan): Violation[] {
  const { arch, tp, pp } = ctx;
  const violations: Violation[] = [...parallelismViolations(arch, tp, pp), ...kernelViolations(ctx, t.failures.values()), ...stackViolations(ctx, t)];
  if (!plan.fits) violations.push(doesNotFit(ctx, plan));
  if (ctx.reduction.violation) violations.push(ctx.reduction.violation);
  return sortViolations(violations);
}

/** What a reader of the report should know that no number says. */
function notesOf(ctx: CompileContext, t: ModuleTally): string[] {
  const { arch, d, tp, recipe } = ctx;
  const notes: string[] = [];
  const { reduction } = ctx;
  if (reduction.removed > 0 && recipe.expertReduction) {
    const saved = ctx.originalParams.total - ctx.params.total;
    const verb = recipe.expertReduction.mode === 'prune' ? 'pruning removes' : 'merging folds away';
    notes.push(
      `expert ${verb} ${reduction.removed} of ${reduction.before} routed experts per MoE layer (${reduction.before - reduction.removed} remain, routing renormalised over them): ${(saved / 1e9).toFixed(2)} B fewer parameters`,
    );
  }
  if (t.rotated > 0) {
    notes.push(`hadamard rotation on ${t.rotated} modules stores no bytes (signs regenerated from seed ${[...t.seeds].sort((a, b) => a - b).join(', ')}); activations are rotated online`);
  }
  if (t.outlierModules > 0) notes.push(`${t.outlierModules} modules keep ${t.outlierWeights} fp16 outliers as (int32 flat index, fp16 value) pairs`);
  const mixed = [...t.expertFormats.values()].filter((s) => s.size > 1).length;
  if (mixed > 0) notes.push(`${mixed} (layer, expert role) groups mix expert formats: served as one grouped-GEMM launch per format`);
  if (tp > arch.numKeyValueHeads) {
    const kv = arch.numKeyValueHeads;
    const times = tp % kv === 0 ? ` ×${tp / kv}` : '';
    notes.push(`KV heads replicated${times} across TP${tp}: each GPU holds ${kvHeadsPerGpu(kv, tp)} of ${kv}`);
  }
  if (arch.tieWordEmbeddings) notes.push('lm_head is tied to the embeddings: stored once, with the embeddings spec');
  const embedSpec = ctx.specOf(ctx.modules[0]);
  if (embedSpec.bits !== 16) notes.push(`embeddings stored at ${embedSpec.bits} bits are dequantized row by row on gather (no GEMM kernel needed)`);
  if (d.contextLength > arch.maxPositionEmbeddings) {
    notes.push(`context ${d.contextLength} exceeds max_position_embeddings ${arch.maxPositionEmbeddings}: needs RoPE scaling (e.g. YaRN)`);
  }
  if (arch.moe && !ctx.expertRanked && recipe.experts) notes.push(`expert tiers applied by expert index (no ${recipe.experts.rankBy} statistics given)`);
  if (arch.moe && !ctx.layerRanked && recipe.expertLayers) {
    notes.push(`expert layer tiers applied by depth (no ${recipe.expertLayers.rankBy} statistics given): the same number of layers per tier, so the same bytes`);
  }
  if (ordersByLongContext(recipe)) {
    notes.push(`depth bands ordered by ${LONG_CONTEXT_ORDER} placed by depth (the executor measures the order): the same number of layers per band, so the same bytes where layers are alike`);
  }
  return notes;
}

const byRoleThenKernel = (a: KernelUse, b: KernelUse): number =>
  a.role < b.role ? -1 : a.role > b.role ? 1 : a.kernel < b.kernel ? -1 : a.kernel > b.kernel ? 1 : 0;

/** Totals against bf16 (weights alone, and with KV cache and overhead) and the report itself. */
function reportOf(ctx: CompileContext, t: ModuleTally, normBytes: number, plan: MemoryPlan): CompileReport {
  const { arch, hw, d, tp, recipe, params } = ctx;
  const { fullest, capacity, overheadPerGpu } = plan;
  const weightTotal = MODULE_ROLES.reduce((s, r) => s + t.bytesByRole[r], normBytes);
  // The baseline is the model as published: pruned or merged experts save memory against it.
  const bf16Total = ctx.originalParams.total * BF16_BYTES;
  const kvTotal = kvTotalBytes(arch, recipe.kvCache, d.contextLength, d.batch);
  const kvTotalBf16 = kvTotalBytes(arch, undefined, d.contextLength, d.batch);
  const overheadAll = overheadPerGpu * d.gpus;
  return {
    model: { name: arch.name, family: arch.family, numLayers: arch.numLayers, numExperts: arch.moe?.numExperts ?? 0 },
    hardware: { id: hw.id, name: hw.name, sm: hw.sm },
    deployment: d,
    pipelineStages: ctx.pp,
    recipe: recipe.name,
    stack: { id: ctx.stack.stack, version: ctx.stack.version, researchOnly: ctx.stack.researchOnly, checkpoint: ctx.checkpoint },
    parameters: { byRole: params.byRole, norms: params.norms, total: params.total },
    modules: { byRole: params.modulesByRole, total: ctx.modules.length },
    weightBytes: { byRole: t.bytesByRole, norms: normBytes, total: weightTotal, bf16Total, breakdown: t.breakdown },
    checkpointBytes: { format: ctx.checkpoint, byRole: t.fileBytesByRole, norms: normBytes, total: MODULE_ROLES.reduce((s, r) => s + t.fileBytesByRole[r], normBytes) },
    kvCache: { policy: kvPolicyLabel(recipe.kvCache), bytesPerToken: kvBytesPerToken(arch, recipe.kvCache), totalBytes: kvTotal, bands: kvBands(arch, recipe.kvCache) },
    overhead: { components: plan.overheadComponents, bytesPerGpu: overheadPerGpu },
    stages: plan.stages,
    perGpu: {
      weightBytes: fullest.weightBytes,
      kvBytes: fullest.kvBytes,
      overheadBytes: fullest.overheadBytes,
      totalBytes: fullest.totalBytes,
      capacityBytes: capacity,
      headroomBytes: capacity - fullest.totalBytes,
    },
    fits: plan.fits,
    reduction: {
      weights: 1 - weightTotal / bf16Total,
      total: 1 - (weightTotal + kvTotal + overheadAll) / (bf16Total + kvTotalBf16 + overheadAll),
    },
    decode: decodeRoofline(t.traffic, hw, { tensorParallel: tp, batch: d.batch, hiddenSize: arch.hiddenSize }),
    kernels: [...t.kernelUse.values()].sort(byRoleThenKernel),
    violations: violationsOf(ctx, t, plan),
    notes: notesOf(ctx, t),
  };
}

/**
 * The steps: enumerate the modules and price each under the recipe (bytes, shard, kernel), add the
 * norms and the KV cache per pipeline stage, plan each GPU's memory, then judge and report.
 */
export function compile(input: CompileInput): CompileReport {
  const ctx = compileContext(input);
  const tally = tallyModules(ctx);
  const normBytes = addNorms(ctx, tally);
  const stageKv = addKvCache(ctx, tally);
  return reportOf(ctx, tally, normBytes, memoryPlan(ctx, tally, stageKv));
}

export interface CompileTargetOptions {
  expertRank?: (layer: number, expert: number) => number;
  layerRank?: (layer: number) => number;
}

/** compile() from names: a shipped model or config.json path, a hardware profile id, a deployment. */
/** The stack and checkpoint may be any string here: parseTarget refuses unknown ones by field. */
export type CompileTargetInput = Omit<TargetInput, 'stack' | 'checkpoint'> & { stack?: string | undefined; checkpoint?: string | undefined };

export function compileTarget(target: CompileTargetInput, recipe: Recipe, opts: CompileTargetOptions = {}): CompileReport {
  const t = parseTarget(target);
  const model = loadModelConfig(t.model);
  const hardware = getHardwareProfile(t.hardware);
  const deployment: Deployment = { gpus: t.gpus, tensorParallel: t.tensorParallel, contextLength: t.contextLength, batch: t.batch };
  const stack = { ...(t.stack ? { stack: t.stack } : {}), ...(t.checkpoint ? { checkpoint: t.checkpoint } : {}) };
  return compile({ model, hardware, deployment, recipe, ...stack, ...(opts.expertRank ? { expertRank: opts.expertRank } : {}), ...(opts.layerRank ? { layerRank: opts.layerRank } : {}) });
}
