// compile: recipe × model × hardware × deployment → exact bytes, fit, decode speed and violations.
// Every number is derived from the module enumeration; nothing is estimated from totals.
import type { CompileReport, KernelUse, Violation } from '../../schema/compile-report.js';
import { parseDeployment, parseTarget, pipelineStages, type Deployment, type DeploymentInput, type TargetInput } from '../../schema/deployment.js';
import type { ActivationFormat, HardwareProfile } from '../../schema/hardware.js';
import type { ModelArchitecture } from '../../schema/model-config.js';
import { MODULE_ROLES, type ModuleRole, type QuantSpec, type Recipe } from '../../schema/recipe.js';
import { getHardwareProfile } from '../hardware/profiles.js';
import { loadModelConfig } from '../model-configs/load.js';
import { activationOf, checkKernel, type KernelVerdict } from './kernel-check.js';
import { kvBytesPerGpu, kvBytesPerToken, kvHeadsPerGpu, type KvBits } from './kv-cache.js';
import { enumerateModules, normParameters, type LinearModule } from './modules.js';
import { runtimeOverhead } from './overhead.js';
import { countParameters, zeroPerRole } from './parameters.js';
import { decodeRoofline, emptyTraffic, expertTouchProbability, type StageTraffic } from './roofline.js';
import { parallelismViolations, pipelineLayout, shardOf, stageOfModule, type Shard } from './sharding.js';
import { createSpecResolver } from './specs.js';
import { addBreakdown, BF16_BYTES, breakdownTotal, emptyBreakdown, matrixBytes, outlierCount, type ByteBreakdown } from './weight-bytes.js';
import { sortViolations } from './violations.js';

export interface CompileInput {
  model: ModelArchitecture;
  hardware: HardwareProfile;
  /** Validated here: contextLength defaults to 4096 and batch to 1. */
  deployment: DeploymentInput;
  recipe: Recipe;
  /** Expert rank within its layer (0 = hottest); defaults to the expert index. */
  expertRank?: (layer: number, expert: number) => number;
}

/** Bytes of one module (or shard) as stored: the quantized matrix plus its bf16 bias. */
function storedBytes(rows: number, cols: number, biasParams: number, spec: QuantSpec): ByteBreakdown {
  const b = matrixBytes(rows, cols, spec);
  b.bf16 += biasParams * BF16_BYTES;
  return b;
}

interface ModuleCost {
  full: ByteBreakdown;
  fullTotal: number;
  shard: Shard;
  /** Stored bytes of the shard one GPU holds. */
  shardBytes: number;
  act: ActivationFormat;
  verdict: KernelVerdict | null;
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

export function compile(input: CompileInput): CompileReport {
  const { model: arch, hardware: hw, recipe } = input;
  const d = parseDeployment(input.deployment);
  const tp = d.tensorParallel;
  const pp = pipelineStages(d);
  const layout = pipelineLayout(arch.numLayers, pp);
  const modules = enumerateModules(arch, input.expertRank ? { expertRank: input.expertRank } : {});
  const params = countParameters(arch, modules);
  const specOf = createSpecResolver(recipe, arch);
  const moe = arch.moe;
  const expertTouch = moe ? expertTouchProbability(moe.numExperts, moe.numExpertsPerTok, d.batch) : 0;
  const tokensPerExpert = moe ? (d.batch * moe.numExpertsPerTok) / moe.numExperts : 0;

  const bytesByRole = zeroPerRole();
  const breakdown = emptyBreakdown();
  const stageWeights = layout.map(() => 0);
  const traffic: StageTraffic[] = layout.map(() => emptyTraffic());
  const kernelUse = new Map<string, KernelUse>();
  const failures = new Map<string, FailureGroup>();
  const expertFormats = new Map<string, Set<string>>();
  let rotated = 0;
  let outlierModules = 0;
  let outlierWeights = 0;
  const seeds = new Set<number>();

  // Module costs depend only on (spec, role, shape): 36k experts share a few dozen of them.
  const specKeys = new Map<QuantSpec, string>();
  const keyOf = (spec: QuantSpec): string => {
    let k = specKeys.get(spec);
    if (k === undefined) {
      k = JSON.stringify(spec);
      specKeys.set(spec, k);
    }
    return k;
  };
  const costs = new Map<string, ModuleCost>();
  const costOf = (m: LinearModule, spec: QuantSpec, specKey: string): ModuleCost => {
    const key = `${specKey}|${m.role}|${m.projection}|${m.inFeatures}|${m.outFeatures}|${m.biasParams}|${m.tied}`;
    let c = costs.get(key);
    if (!c) {
      const full = storedBytes(m.outFeatures, m.inFeatures, m.biasParams, spec);
      const shard = shardOf(m, arch, tp);
      c = {
        full,
        fullTotal: breakdownTotal(full),
        shard,
        shardBytes: breakdownTotal(storedBytes(shard.outFeatures, shard.inFeatures, shard.biasParams, spec)),
        act: activationOf(spec, recipe.activations),
        // Embeddings are a row gather (dequantized per row), not a GEMM: no kernel to check.
        verdict: m.projection === 'embed' ? null : checkKernel(hw, spec, recipe.activations, shard, m.inFeatures),
      };
      costs.set(key, c);
    }
    return c;
  };

  for (const m of modules) {
    const spec = specOf(m);
    const specKey = keyOf(spec);
    const c = costOf(m, spec, specKey);
    if (!m.tied) {
      bytesByRole[m.role] += c.fullTotal;
      addBreakdown(breakdown, c.full);
      if (spec.bits !== 16 && spec.outliers) {
        outlierModules += 1;
        outlierWeights += outlierCount(m.outFeatures, m.inFeatures, spec.outliers.fraction);
      }
      if (spec.bits !== 16 && spec.rotation) {
        rotated += 1;
        seeds.add(spec.rotation.seed);
      }
    }
    const { shard, shardBytes } = c;
    const stage = stageOfModule(m, layout);
    // A tied lm_head shares stage 0's table unless the pipeline puts it on another GPU.
    if (!m.tied || stage !== 0) stageWeights[stage] += shardBytes;

    const t = traffic[stage];
    if (m.projection === 'embed') {
      t.weightBytesRead += Math.min(1, d.batch / shard.outFeatures) * shardBytes;
    } else if (m.expert !== null) {
      t.weightBytesRead += expertTouch * shardBytes;
      t.flops[c.act] += 2 * shard.inFeatures * shard.outFeatures * tokensPerExpert;
    } else {
      t.weightBytesRead += shardBytes;
      t.flops[c.act] += 2 * shard.inFeatures * shard.outFeatures * d.batch;
    }

    if (m.expert !== null && m.layer !== null) {
      const key = `${m.layer}|${m.role}`;
      const set = expertFormats.get(key) ?? new Set<string>();
      set.add(specKey);
      expertFormats.set(key, set);
    }
    const verdict = c.verdict;
    if (!verdict) continue;
    if (verdict.ok) {
      const key = `${m.role}|${verdict.kernel}`;
      const use = kernelUse.get(key) ?? { role: m.role, kernel: verdict.kernel, modules: 0 };
      use.modules += 1;
      kernelUse.set(key, use);
    } else {
      const key = `${verdict.code}|${m.role}|${verdict.reason}`;
      const g = failures.get(key) ?? { code: verdict.code, role: m.role, reason: verdict.reason, detail: verdict.detail, modules: 0, firstLayer: null, lastLayer: null };
      g.modules += 1;
      if (m.layer !== null) {
        g.firstLayer = g.firstLayer === null ? m.layer : Math.min(g.firstLayer, m.layer);
        g.lastLayer = g.lastLayer === null ? m.layer : Math.max(g.lastLayer, m.layer);
      }
      failures.set(key, g);
    }
  }

  // RMSNorm weights: bf16, replicated on every GPU of the stage that holds their layer.
  const norms = normParameters(arch);
  const normBytes = norms.total * BF16_BYTES;
  breakdown.bf16 += normBytes;
  layout.forEach((s, i) => {
    const layers = s.endLayer - s.firstLayer;
    const bytes = (layers * norms.perLayer + (i === layout.length - 1 ? norms.final : 0)) * BF16_BYTES;
    stageWeights[i] += bytes;
    traffic[i].weightBytesRead += bytes;
  });

  // KV cache, attention FLOPs over the context, and all-reduces per stage.
  const kvBits = recipe.kvCacheBits as KvBits;
  const headsPerGpu = Math.ceil(arch.numAttentionHeads / tp);
  const stageKv = layout.map((s, i) => {
    const layers = s.endLayer - s.firstLayer;
    const kv = kvBytesPerGpu(arch, layers, tp, d.contextLength, d.batch, kvBits);
    traffic[i].kvBytesRead += kv;
    traffic[i].flops.bf16 += layers * 4 * headsPerGpu * arch.headDim * d.contextLength * d.batch;
    traffic[i].allReduces += 2 * layers + (i === 0 ? 1 : 0) + (i === layout.length - 1 ? 1 : 0);
    return kv;
  });

  const overheadComponents = runtimeOverhead(arch, d);
  const overheadPerGpu = overheadComponents.reduce((s, c) => s + c.bytesPerGpu, 0);
  const stages = layout.map((s, i) => ({
    stage: i,
    firstLayer: s.firstLayer,
    endLayer: s.endLayer,
    weightBytes: stageWeights[i],
    kvBytes: stageKv[i],
    overheadBytes: overheadPerGpu,
    totalBytes: stageWeights[i] + stageKv[i] + overheadPerGpu,
  }));
  const fullest = stages.reduce((a, b) => (b.totalBytes > a.totalBytes ? b : a));
  const capacity = hw.memoryBytes;
  const fits = fullest.totalBytes <= capacity;

  const violations: Violation[] = [...parallelismViolations(arch, tp, pp)];
  for (const g of failures.values()) {
    violations.push({
      code: g.code,
      role: g.role,
      message: `${g.role}: ${g.reason} (${g.modules} module${g.modules === 1 ? '' : 's'}${layerSpan(g.firstLayer, g.lastLayer)})`,
      detail: { ...g.detail, modules: g.modules, firstLayer: g.firstLayer, lastLayer: g.lastLayer, tensorParallel: tp, hardware: hw.id },
    });
  }
  if (!(hw.kvCacheBits as number[]).includes(kvBits)) {
    violations.push({ code: 'kernel-unsupported', message: `kv cache: no ${kvBits}-bit attention kernel on ${hw.id}`, detail: { kvCacheBits: kvBits, hardware: hw.id } });
  }
  if (!fits) {
    const gb = (n: number): string => `${(n / 1e9).toFixed(1)} GB`;
    violations.push({
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
    });
  }

  const weightTotal = MODULE_ROLES.reduce((s, r) => s + bytesByRole[r], normBytes);
  const bf16Total = params.total * BF16_BYTES;
  const kvPerToken = kvBytesPerToken(arch, kvBits);
  const kvTotal = kvPerToken * d.contextLength * d.batch;
  const kvTotalBf16 = kvBytesPerToken(arch, 16) * d.contextLength * d.batch;
  const overheadAll = overheadPerGpu * d.gpus;

  const notes: string[] = [];
  if (rotated > 0) {
    notes.push(`hadamard rotation on ${rotated} modules stores no bytes (signs regenerated from seed ${[...seeds].sort((a, b) => a - b).join(', ')}); activations are rotated online`);
  }
  if (outlierModules > 0) {
    notes.push(`${outlierModules} modules keep ${outlierWeights} fp16 outliers as (int32 flat index, fp16 value) pairs`);
  }
  const mixed = [...expertFormats.values()].filter((s) => s.size > 1).length;
  if (mixed > 0) notes.push(`${mixed} (layer, expert role) groups mix expert formats: served as one grouped-GEMM launch per format`);
  if (tp > arch.numKeyValueHeads) {
    const kv = arch.numKeyValueHeads;
    const times = tp % kv === 0 ? ` ×${tp / kv}` : '';
    notes.push(`KV heads replicated${times} across TP${tp}: each GPU holds ${kvHeadsPerGpu(kv, tp)} of ${kv}`);
  }
  if (arch.tieWordEmbeddings) notes.push('lm_head is tied to the embeddings: stored once, with the embeddings spec');
  const embedSpec = specOf(modules[0]);
  if (embedSpec.bits !== 16) notes.push(`embeddings stored at ${embedSpec.bits} bits are dequantized row by row on gather (no GEMM kernel needed)`);
  if (d.contextLength > arch.maxPositionEmbeddings) {
    notes.push(`context ${d.contextLength} exceeds max_position_embeddings ${arch.maxPositionEmbeddings}: needs RoPE scaling (e.g. YaRN)`);
  }
  if (moe && !input.expertRank && recipe.experts) notes.push(`expert tiers applied by expert index (no ${recipe.experts.rankBy} statistics given)`);

  return {
    model: { name: arch.name, family: arch.family, numLayers: arch.numLayers, numExperts: moe?.numExperts ?? 0 },
    hardware: { id: hw.id, name: hw.name, sm: hw.sm },
    deployment: d,
    pipelineStages: pp,
    recipe: recipe.name,
    parameters: { byRole: params.byRole, norms: params.norms, total: params.total },
    modules: { byRole: params.modulesByRole, total: modules.length },
    weightBytes: { byRole: bytesByRole, norms: normBytes, total: weightTotal, bf16Total, breakdown },
    kvCache: { bits: kvBits, bytesPerToken: kvPerToken, totalBytes: kvTotal },
    overhead: { components: overheadComponents, bytesPerGpu: overheadPerGpu },
    stages,
    perGpu: {
      weightBytes: fullest.weightBytes,
      kvBytes: fullest.kvBytes,
      overheadBytes: fullest.overheadBytes,
      totalBytes: fullest.totalBytes,
      capacityBytes: capacity,
      headroomBytes: capacity - fullest.totalBytes,
    },
    fits,
    reduction: {
      weights: 1 - weightTotal / bf16Total,
      total: 1 - (weightTotal + kvTotal + overheadAll) / (bf16Total + kvTotalBf16 + overheadAll),
    },
    decode: decodeRoofline(traffic, hw, { tensorParallel: tp, batch: d.batch, hiddenSize: arch.hiddenSize }),
    kernels: [...kernelUse.values()].sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : a.kernel < b.kernel ? -1 : a.kernel > b.kernel ? 1 : 0)),
    violations: sortViolations(violations),
    notes,
  };
}

export interface CompileTargetOptions {
  expertRank?: (layer: number, expert: number) => number;
}

/** compile() from names: a shipped model or config.json path, a hardware profile id, a deployment. */
export function compileTarget(target: TargetInput, recipe: Recipe, opts: CompileTargetOptions = {}): CompileReport {
  const t = parseTarget(target);
  const model = loadModelConfig(t.model);
  const hardware = getHardwareProfile(t.hardware);
  const deployment: Deployment = { gpus: t.gpus, tensorParallel: t.tensorParallel, contextLength: t.contextLength, batch: t.batch };
  return compile({ model, hardware, deployment, recipe, ...(opts.expertRank ? { expertRank: opts.expertRank } : {}) });
}
