// On-disk form of a quantized proxy: HF layout (config.json + model.safetensors) holding the packed
// codes, fp16 scales, zero points, AWQ channel scales and sparse fp16 outliers of every module,
// described by a quantization_config in config.json.
import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { ModelLoadError, floatTensors, readModelDirectory } from '../model/load.js';
import type { ProxyWeights } from '../model/forward.js';
import { dequantize, type QuantizedLinear } from '../quantization/quantized-linear.js';
import { fromFloat32 } from '../safetensors/dtypes.js';
import { writeSafetensors, type StoredTensor } from '../safetensors/format.js';
import { QuantSpec, Recipe } from '../../schema/recipe.js';
import type { QuantizedProxy } from './quantize-model.js';

const FORMAT_VERSION = 1;

const StoredModule = z.object({ spec: QuantSpec, out_features: z.number().int().positive(), in_features: z.number().int().positive() });
const QuantizationConfig = z.object({
  quant_method: z.literal('evoquant'),
  format_version: z.literal(FORMAT_VERSION),
  recipe: Recipe,
  /** Bytes of every stored array (codes, scales, zeros, channel scales, outliers, bf16 tensors). */
  stored_bytes: z.number().int().nonnegative(),
  modules: z.record(z.string(), StoredModule),
});
export type QuantizationConfig = z.infer<typeof QuantizationConfig>;

const base = (tensor: string): string => tensor.replace(/\.weight$/, '');

function bytesOf(a: Uint16Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

function u16(t: StoredTensor): Uint16Array {
  return new Uint16Array(t.data.slice().buffer);
}

/** Tensors and config of the stored form. */
export function serializeQuantized(qp: QuantizedProxy, baseConfig: Record<string, unknown>): { tensors: Map<string, StoredTensor>; config: Record<string, unknown> } {
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
  return { tensors, config: { ...baseConfig, torch_dtype: 'bfloat16', quantization_config } };
}

/**
 * Writes into a uniquely named temporary sibling and renames it into place: no partial model on a
 * crash, and no collision between writers sharing the directory (containers all have small pids).
 * With `replace: false` an existing target wins (another attempt already wrote the same
 * content-addressed artifact) and false is returned.
 */
export function writeQuantizedModel(outDir: string, qp: QuantizedProxy, baseConfig: Record<string, unknown>, { replace = true } = {}): boolean {
  const target = resolve(outDir);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${randomUUID()}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const { tensors, config } = serializeQuantized(qp, baseConfig);
    writeSafetensors(join(tmp, 'model.safetensors'), { tensors, metadata: { format: 'evoquant', recipe: qp.recipe.name } });
    writeFileSync(join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    if (existsSync(target)) {
      if (!replace) {
        rmSync(tmp, { recursive: true, force: true });
        return false;
      }
      rmSync(target, { recursive: true });
    }
    renameSync(tmp, target);
    return true;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function requireTensor(tensors: Map<string, StoredTensor>, name: string, dir: string): StoredTensor {
  const t = tensors.get(name);
  if (!t) throw new ModelLoadError(`model: ${dir} lacks tensor ${name}`);
  return t;
}

/** Loads any model directory, plain or quantized, as effective float weights. */
export function loadModel(dir: string): ProxyWeights & { quantization: QuantizationConfig | null } {
  const m = readModelDirectory(dir);
  if (m.rawConfig.quantization_config === undefined) return { config: m.config, tensors: floatTensors(m.file), quantization: null };
  const parsed = QuantizationConfig.safeParse(m.rawConfig.quantization_config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelLoadError(`model: ${dir}/config.json: quantization_config.${issue.path.join('.')}: ${issue.message}`);
  }
  const qc = parsed.data;
  const tensors = floatTensors(m.file);
  for (const [name, mod] of Object.entries(qc.modules)) {
    const b = base(name);
    const spec = mod.spec;
    const q: QuantizedLinear = {
      outFeatures: mod.out_features,
      inFeatures: mod.in_features,
      spec,
      codes: spec.bits === 16 ? requireTensor(m.file.tensors, name, dir).data : requireTensor(m.file.tensors, `${b}.qweight`, dir).data,
      scales: spec.bits === 16 ? new Uint16Array(0) : u16(requireTensor(m.file.tensors, `${b}.scales`, dir)),
    };
    const zeros = m.file.tensors.get(`${b}.qzeros`);
    if (zeros) q.zeros = zeros.data;
    const cs = m.file.tensors.get(`${b}.channel_scales`);
    if (cs) q.channelScales = u16(cs);
    const oi = m.file.tensors.get(`${b}.outlier_index`);
    const ov = m.file.tensors.get(`${b}.outlier_value`);
    if (oi && ov) {
      q.outlierIndex = new Int32Array(oi.data.slice().buffer);
      q.outlierValue = u16(ov);
    }
    if (spec.rotation) q.rotationSeed = spec.rotation.seed;
    tensors.set(name, dequantize(q));
  }
  return { config: m.config, tensors, quantization: qc };
}
