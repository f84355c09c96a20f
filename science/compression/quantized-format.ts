// On-disk form of a quantized proxy: HF layout (config.json + model.safetensors) holding the packed
// codes, fp16 scales, zero points, AWQ channel scales and sparse fp16 outliers of every module,
// described by a quantization_config in config.json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelLoadError, floatTensors, readModelDirectory } from '../model/load.js';
import type { ProxyWeights } from '../model/forward.js';
import { dequantize, type QuantizedLinear } from '../quantization/quantized-linear.js';
import { fromFloat32 } from '../safetensors/dtypes.js';
import { writeSafetensors, type StoredTensor } from '../safetensors/format.js';
import { writeOutputDirectory } from '../output-dir/write.js';
import { checkProxyConfigFits, checkProxyWeights, linearShapes } from '../model/check-weights.js';
import { groupCount } from '../quantization/grid.js';
import { packedLength } from '../quantization/packing.js';
import { QuantSpec, Recipe } from '../../schema/recipe.js';
import type { QuantizedProxy } from './quantize-model.js';
import type { QuantizedDense } from './quantize-dense.js';
import { echo } from '../../schema/echo.js';
import { PROXY_LIMITS } from '../../schema/proxy-config.js';

const FORMAT_VERSION = 1;

const StoredModule = z.object({ spec: QuantSpec, out_features: z.number().int().positive(), in_features: z.number().int().positive() });
const expertId = z.number().int().nonnegative().max(PROXY_LIMITS.experts);
/** Provenance of a model whose experts were pruned or merged: which original experts each layer kept. */
const ExpertReductionRecord = z
  .object({
    mode: z.enum(['prune', 'merge']),
    /** Original ids of the experts each layer kept, ascending: stored expert i is kept[layer][i]. */
    kept: z.array(z.array(expertId).max(PROXY_LIMITS.experts)).max(PROXY_LIMITS.layers),
    /** merge: [removed, kept-into] pairs per layer (original ids). */
    merged_into: z.array(z.array(z.tuple([expertId, expertId])).max(PROXY_LIMITS.experts)).max(PROXY_LIMITS.layers),
  })
  .strict();
export const QuantizationConfig = z.object({
  quant_method: z.literal('evoquant'),
  format_version: z.literal(FORMAT_VERSION),
  recipe: Recipe,
  expert_reduction: ExpertReductionRecord.optional(),
  /** Bytes of every stored array (codes, scales, zeros, channel scales, outliers, bf16 tensors). */
  stored_bytes: z.number().int().nonnegative(),
  modules: z.record(z.string(), StoredModule),
});
export type QuantizationConfig = z.infer<typeof QuantizationConfig>;
type StoredModule = z.infer<typeof StoredModule>;

const base = (tensor: string): string => tensor.replace(/\.weight$/, '');

function bytesOf(a: Uint16Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

function u16(t: StoredTensor): Uint16Array {
  return new Uint16Array(t.data.slice().buffer);
}

/** Tensors and config of the stored form. */
export function serializeQuantized(qp: QuantizedProxy | QuantizedDense, baseConfig: Record<string, unknown>): { tensors: Map<string, StoredTensor>; config: Record<string, unknown> } {
  const tensors = new Map<string, StoredTensor>();
  const modules: QuantizationConfig['modules'] = {};
  const linear = new Set<string>();
  for (const { module, spec, stored: q } of qp.modules) {
    linear.add(module.tensor);
    modules[module.tensor] = { spec, out_features: q.outFeatures, in_features: q.inFeatures };
    const b = base(module.tensor);
    if (spec.bits === 16) {
      tensors.set(module.tensor, { dtype: 'BF16', shape: [q.outFeatures, q.inFeatures], data: q.codes });
      continue;
    }
    tensors.set(`${b}.qweight`, { dtype: 'U8', shape: [q.codes.length], data: q.codes });
    tensors.set(`${b}.scales`, { dtype: 'F16', shape: [q.outFeatures, q.scales.length / q.outFeatures], data: bytesOf(q.scales) });
    if (q.zeros) tensors.set(`${b}.qzeros`, { dtype: 'U8', shape: [q.zeros.length], data: q.zeros });
    if (q.channelScales) tensors.set(`${b}.channel_scales`, { dtype: 'F16', shape: [q.inFeatures], data: bytesOf(q.channelScales) });
    if (q.outlierIndex && q.outlierValue) {
      tensors.set(`${b}.outlier_index`, { dtype: 'I32', shape: [q.outlierIndex.length], data: bytesOf(q.outlierIndex) });
      tensors.set(`${b}.outlier_value`, { dtype: 'F16', shape: [q.outlierValue.length], data: bytesOf(q.outlierValue) });
    }
  }
  for (const [name, t] of qp.weights.tensors) {
    if (!linear.has(name)) tensors.set(name, { dtype: 'BF16', shape: [t.length], data: fromFloat32(t, 'BF16') });
  }
  const quantization_config: QuantizationConfig = { quant_method: 'evoquant', format_version: FORMAT_VERSION, recipe: qp.recipe, stored_bytes: qp.bytes.total, modules };
  const r = 'expertReduction' in qp ? qp.expertReduction : undefined;
  if (r) quantization_config.expert_reduction = { mode: r.mode, kept: r.kept, merged_into: r.mergedInto };
  // A model whose experts were pruned or merged is stored as what it is: a model with fewer experts.
  const experts = 'num_experts' in qp.weights.config ? { num_experts: qp.weights.config.num_experts } : {};
  return { tensors, config: { ...baseConfig, ...experts, torch_dtype: 'bfloat16', quantization_config } };
}

/**
 * Writes the model through the output-directory writer: atomic, marked as evoquant's, and never
 * replacing a directory evoquant did not write. With `replace: false` an existing target wins
 * (another attempt already wrote the same content-addressed artifact) and false is returned.
 */
export function writeQuantizedModel(outDir: string, qp: QuantizedProxy | QuantizedDense, baseConfig: Record<string, unknown>, { replace = true } = {}): boolean {
  const { tensors, config } = serializeQuantized(qp, baseConfig);
  return writeOutputDirectory(
    outDir,
    (dir) => {
      writeSafetensors(join(dir, 'model.safetensors'), { tensors, metadata: { format: 'evoquant', recipe: qp.recipe.name } });
      writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    },
    { what: 'quantized-model', details: { recipe: qp.recipe.name, storedBytes: qp.bytes.total }, replace },
  );
}

function requireTensor(tensors: Map<string, StoredTensor>, name: string, dir: string): StoredTensor {
  const t = tensors.get(name);
  if (!t) throw new ModelLoadError(`model: ${echo(dir)} lacks tensor ${name}`);
  return t;
}

/** The stored arrays of one module, checked against the sizes its spec and shape imply. */
export function storedModule(file: Map<string, StoredTensor>, name: string, mod: StoredModule, dir: string): QuantizedLinear {
  const { spec, out_features: out, in_features: n } = mod;
  const b = base(name);
  const fail = (why: string): never => {
    throw new ModelLoadError(`model: ${echo(dir)}: quantized module ${echo(name)}: ${why}`);
  };
  const sized = (t: StoredTensor, what: string, bytes: number): Uint8Array => {
    if (t.data.byteLength !== bytes) fail(`${what} holds ${t.data.byteLength} bytes, its spec implies ${bytes}`);
    return t.data;
  };
  if (spec.bits === 16) {
    return { outFeatures: out, inFeatures: n, spec, codes: sized(requireTensor(file, name, dir), 'the bf16 weight', out * n * 2), scales: new Uint16Array(0) };
  }
  const groups = out * groupCount(spec.groupSize, n);
  const q: QuantizedLinear = {
    outFeatures: out,
    inFeatures: n,
    spec,
    codes: sized(requireTensor(file, `${b}.qweight`, dir), 'qweight', packedLength(out * n, spec.bits)),
    scales: u16({ ...requireTensor(file, `${b}.scales`, dir), data: sized(requireTensor(file, `${b}.scales`, dir), 'scales', 2 * groups) }),
  };
  const zeros = file.get(`${b}.qzeros`);
  if (zeros) q.zeros = sized(zeros, 'qzeros', packedLength(groups, spec.bits));
  const cs = file.get(`${b}.channel_scales`);
  if (cs) q.channelScales = u16({ ...cs, data: sized(cs, 'channel_scales', 2 * n) });
  const oi = file.get(`${b}.outlier_index`);
  const ov = file.get(`${b}.outlier_value`);
  if (oi && ov) {
    const count = ov.data.byteLength / 2;
    q.outlierIndex = new Int32Array(sized(oi, 'outlier_index', 4 * count).slice().buffer);
    q.outlierValue = u16({ ...ov, data: sized(ov, 'outlier_value', 2 * count) });
    if (q.outlierIndex.some((i) => i < 0 || i >= out * n)) fail('outlier_index points outside the weight');
  }
  if (spec.rotation) q.rotationSeed = spec.rotation.seed;
  return q;
}

/** A quantized directory as stored: each linear module's QuantizedLinear and every other tensor as float. */
export interface StoredQuantizedModel {
  config: ProxyWeights['config'];
  rawConfig: Record<string, unknown>;
  /** null for a plain (unquantized) model directory. */
  quantization: QuantizationConfig | null;
  /** Linear modules by HF tensor name (bf16 passthrough modules included, as bits-16 QuantizedLinear). */
  modules: Map<string, QuantizedLinear>;
  /** Every float tensor that is not a stored module (norms; linear modules the recipe left out), float32. */
  others: Map<string, Float32Array>;
}

/** A plain bf16 model read as if every linear module were stored as bits-16 passthrough. */
function plainAsStored(dir: string, m: ReturnType<typeof readModelDirectory>): StoredQuantizedModel {
  const tensors = floatTensors(m.file);
  checkProxyWeights(dir, m.config, tensors);
  const modules = new Map<string, QuantizedLinear>();
  const others = new Map<string, Float32Array>();
  const shapes = linearShapes(m.config);
  for (const [name, t] of tensors) {
    const shape = shapes.get(name);
    if (!shape) {
      others.set(name, t);
      continue;
    }
    const stored = m.file.tensors.get(name)!;
    // bf16 bytes move over as they are; a float32 or fp16 weight is rounded to bf16 (the stored form of bits 16).
    const codes = stored.dtype === 'BF16' ? stored.data.slice() : fromFloat32(t, 'BF16');
    modules.set(name, { outFeatures: shape.outFeatures, inFeatures: shape.inFeatures, spec: QuantSpec.parse({ bits: 16 }), codes, scales: new Uint16Array(0) });
  }
  return { config: m.config, rawConfig: m.rawConfig, quantization: null, modules, others };
}

/** Reads a directory written by writeQuantizedModel without decoding it (exporters repack the stored arrays); a plain model reads as all-bf16. */
export function readQuantizedModules(dir: string): StoredQuantizedModel {
  const m = readModelDirectory(dir);
  checkProxyConfigFits(dir, m.config);
  if (m.rawConfig.quantization_config === undefined) return plainAsStored(dir, m);
  const parsed = QuantizationConfig.safeParse(m.rawConfig.quantization_config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelLoadError(`model: ${echo(dir)}/config.json: quantization_config.${issue.path.join('.')}: ${issue.message}`);
  }
  const shapes = linearShapes(m.config);
  const modules = new Map<string, QuantizedLinear>();
  for (const [name, mod] of Object.entries(parsed.data.modules)) {
    const shape = shapes.get(name);
    if (!shape || shape.outFeatures !== mod.out_features || shape.inFeatures !== mod.in_features) {
      throw new ModelLoadError(`model: ${echo(dir)}/config.json: quantization_config.modules.${name} does not match a linear module of this config`);
    }
    modules.set(name, storedModule(m.file.tensors, name, mod, dir));
  }
  const others = new Map<string, Float32Array>();
  // The stored modules' own arrays (scales, channel_scales, outlier values) are float too: skip them.
  const owned = (name: string): boolean => modules.has(name) || [...modules.keys()].some((mod) => name.startsWith(`${base(mod)}.`));
  for (const [name, t] of floatTensors(m.file)) if (!owned(name)) others.set(name, t);
  return { config: m.config, rawConfig: m.rawConfig, quantization: parsed.data, modules, others };
}

/** Loads any model directory, plain or quantized, as effective float weights. */
export function loadModel(dir: string): ProxyWeights & { quantization: QuantizationConfig | null } {
  const m = readModelDirectory(dir);
  checkProxyConfigFits(dir, m.config);
  if (m.rawConfig.quantization_config === undefined) {
    const tensors = floatTensors(m.file);
    checkProxyWeights(dir, m.config, tensors);
    return { config: m.config, tensors, quantization: null };
  }
  const parsed = QuantizationConfig.safeParse(m.rawConfig.quantization_config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelLoadError(`model: ${echo(dir)}/config.json: quantization_config.${issue.path.join('.')}: ${issue.message}`);
  }
  const qc = parsed.data;
  const shapes = linearShapes(m.config);
  const tensors = floatTensors(m.file);
  for (const [name, mod] of Object.entries(qc.modules)) {
    const shape = shapes.get(name);
    if (!shape) throw new ModelLoadError(`model: ${echo(dir)}/config.json: quantization_config.modules names ${echo(name)}, not a linear module of this config`);
    if (shape.outFeatures !== mod.out_features || shape.inFeatures !== mod.in_features) {
      throw new ModelLoadError(
        `model: ${echo(dir)}/config.json: quantization_config.modules.${name} is [${mod.out_features}, ${mod.in_features}], config.json implies [${shape.outFeatures}, ${shape.inFeatures}]`,
      );
    }
    const q = storedModule(m.file.tensors, name, mod, dir);
    try {
      tensors.set(name, dequantize(q));
    } catch (err) {
      // Sizes are checked above; what remains (a rotation the shape cannot take) is still the file's fault.
      throw new ModelLoadError(`model: ${echo(dir)}: quantized module ${name} cannot be decoded (${(err as Error).message.split('\n')[0]})`);
    }
  }
  checkProxyWeights(dir, m.config, tensors);
  return { config: m.config, tensors, quantization: qc };
}
