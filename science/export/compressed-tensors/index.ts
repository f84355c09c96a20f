// The compressed-tensors exporter: a quantized proxy directory (or the plain bf16 proxy) → a Hugging
// Face Mixtral checkpoint (config.json with quantization_config + model.safetensors) as
// compressed-tensors 0.17, transformers 5.20 and vLLM's compressed_tensors loader read it: int grids
// pack-quantized (weight_packed, weight_scale, weight_zero_point, weight_shape), fp8 per channel
// float-quantized, bf16 modules in `ignore`, AWQ scales folded (awq-fold.ts). What it cannot hold
// faithfully it refuses by rule (refusal.ts).
import type { ExportedFile, Exporter } from '../export-format.js';
import { readQuantizedModules, type StoredQuantizedModel } from '../../compression/quantized-format.js';
import { proxyModules } from '../../model/modules.js';
import { groupCount } from '../../quantization/grid.js';
import { fromFp16Bits } from '../../quantization/half.js';
import { fromFloat32 } from '../../safetensors/dtypes.js';
import { serializeSafetensors, type StoredTensor } from '../../safetensors/format.js';
import { foldAwqScales, type ExportModule } from './awq-fold.js';
import { mixtralConfig } from './mixtral-config.js';
import { mixtralModuleName, mixtralTensorName } from './mixtral-names.js';
import { packWeightCodes, packZeroPoints } from './pack.js';
import { ExportRefusedError, EXPORT_RULES } from './refusal.js';
import { configGroups, formatOf } from './schemes.js';

export { ExportRefusedError, EXPORT_RULES } from './refusal.js';

const le = (a: Int32Array | Float32Array | BigInt64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();

/** Refuses what pack-quantized cannot hold before anything is converted. */
function checkExportable(stored: StoredQuantizedModel): void {
  const byRule = new Map<string, { modules: string[]; why: string }>();
  const hit = (rule: string, module: string, why: string): void => {
    const entry = byRule.get(rule) ?? { modules: [], why };
    entry.modules.push(module);
    byRule.set(rule, entry);
  };
  for (const m of proxyModules(stored.config)) {
    const q = stored.modules.get(m.tensor);
    if (!q || q.spec.bits === 16) continue;
    if (m.role === 'embeddings') hit(EXPORT_RULES.embeddings, m.tensor, 'embeddings are served in bf16');
    if (m.role === 'router') hit(EXPORT_RULES.router, m.tensor, 'the router is served in bf16');
    if (q.outlierIndex) hit(EXPORT_RULES.outliers, m.tensor, 'no compressed-tensors format stores sparse fp16 outliers');
    if (q.rotationSeed !== undefined) hit(EXPORT_RULES.rotation, m.tensor, "evoquant's seeded Hadamard rotation has no compressed-tensors transform that reproduces it");
    if (q.spec.format === 'fp8' && q.spec.groupSize !== 'channel') hit(EXPORT_RULES.fp8Group, m.tensor, 'fp8 weights export per channel only');
    else if (q.spec.groupSize !== 'channel' && q.inFeatures % q.spec.groupSize !== 0) hit(EXPORT_RULES.groupTiling, m.tensor, `in_features is not a multiple of group size ${q.spec.groupSize}`);
  }
  const activations = stored.quantization?.recipe.activations ?? 'bf16';
  if (activations !== 'bf16') hit(EXPORT_RULES.activations, `recipe ${stored.quantization?.recipe.name ?? ''}`.trim(), `the recipe runs ${activations} activations; the export writes weight-only schemes`);
  const first = [...byRule.entries()][0];
  if (first) throw new ExportRefusedError(first[0], first[1].modules, first[1].why);
}

/** The tensors of one module under its Mixtral name. */
function moduleTensors(name: string, q: ExportModule, tensors: Map<string, StoredTensor>): void {
  const out = q.outFeatures;
  const n = q.inFeatures;
  if (q.spec.bits === 16) {
    tensors.set(`${name}.weight`, { dtype: 'BF16', shape: [out, n], data: q.codes.slice() });
    return;
  }
  const groups = groupCount(q.spec.groupSize, n);
  if (q.spec.format === 'fp8') {
    // float-quantized (compressors/naive_quantized): the e4m3fn bytes as they are, one scale per row.
    tensors.set(`${name}.weight`, { dtype: 'F8_E4M3', shape: [out, n], data: q.codes.slice() });
    tensors.set(`${name}.weight_scale`, { dtype: 'F32', shape: [out, groups], data: le(q.scalesF32 ?? Float32Array.from(q.scales, fromFp16Bits)) });
    return;
  }
  const bits = q.spec.bits;
  const packed = packWeightCodes(q.codes, out, n, bits);
  tensors.set(`${name}.weight_packed`, { dtype: 'I32', shape: [out, packed.length / out], data: le(packed) });
  // fp32, not fp16: compressed-tensors dequantizes in the scale's dtype ((q − zp)·scale, forward_helpers
  // _dequantize), and in fp16 every product rounds (2.3e-4 bits/byte off evoquant on the mixed proxy
  // recipe). Widened, the stored fp16 values stay exact and so does every product.
  tensors.set(`${name}.weight_scale`, { dtype: 'F32', shape: [out, groups], data: le(q.scalesF32 ?? Float32Array.from(q.scales, fromFp16Bits)) });
  tensors.set(`${name}.weight_shape`, { dtype: 'I64', shape: [2], data: le(BigInt64Array.from([BigInt(out), BigInt(n)])) });
  if (!q.spec.symmetric) {
    if (!q.zeros) throw new Error(`export: asymmetric module ${name} has no zero points`);
    const zp = packZeroPoints(q.zeros, out, groups, bits);
    tensors.set(`${name}.weight_zero_point`, { dtype: 'I32', shape: [zp.length / groups, groups], data: le(zp) });
  }
}

/** config.json and the safetensors tensors of the exported checkpoint. */
export function buildCompressedTensors(stored: StoredQuantizedModel): { config: Record<string, unknown>; tensors: Map<string, StoredTensor> } {
  checkExportable(stored);
  const baseConfig = mixtralConfig(stored.config);
  const folded = foldAwqScales(stored.config, stored.modules, stored.others);
  const tensors = new Map<string, StoredTensor>();
  const modules: { name: string; q: ExportModule; linear: boolean }[] = [];
  for (const m of proxyModules(stored.config)) {
    const q = folded.modules.get(m.tensor);
    if (!q) continue;
    modules.push({ name: mixtralModuleName(m.tensor), q, linear: m.role !== 'embeddings' });
    moduleTensors(mixtralModuleName(m.tensor), q, tensors);
  }
  for (const [name, t] of folded.others) tensors.set(mixtralTensorName(name), { dtype: 'BF16', shape: [t.length], data: fromFloat32(t, 'BF16') });
  const quantized = modules.filter((m) => m.q.spec.bits !== 16);
  if (quantized.length === 0) return { config: baseConfig, tensors };
  const quantization_config = {
    quant_method: 'compressed-tensors',
    format: formatOf(quantized.map((m) => m.q.spec)),
    quantization_status: 'compressed',
    config_groups: configGroups(quantized.map((m) => ({ module: m.name, spec: m.q.spec })), stored.config.num_experts),
    // Linear modules kept in bf16 (the embedding table is not a Linear, so no scheme targets it).
    ignore: modules.filter((m) => m.linear && m.q.spec.bits === 16).map((m) => m.name),
    kv_cache_scheme: null,
    sparsity_config: {},
    transform_config: {},
    version: '0.17.0',
  };
  return { config: { ...baseConfig, quantization_config }, tensors };
}

export const exportCompressedTensors: Exporter = ({ quantizedDir }): ExportedFile[] => {
  const { config, tensors } = buildCompressedTensors(readQuantizedModules(quantizedDir));
  return [
    { path: 'config.json', bytes: new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`) },
    { path: 'model.safetensors', bytes: serializeSafetensors({ tensors, metadata: { format: 'pt' } }) },
  ];
};
