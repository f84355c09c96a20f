// AWQ stores a per-input-channel scale s with each module: its effective weight is deq(W)/s, i.e.
// deq(W) applied to x/s. No serving format stores s, so x/s has to come out of the op before the
// module: RMSNorm weights for q/k/v, gate/up (with the bf16 router compensated by ×s) and lm_head,
// and the up_proj rows for down_proj. Modules sharing one input must share one s.
import type { ProxyConfig } from '../../../schema/proxy-config.js';
import { fromBf16Bits, fromFp16Bits } from '../../quantization/half.js';
import type { QuantizedLinear } from '../../quantization/quantized-linear.js';
import { bf16Bits } from '../../safetensors/dtypes.js';
import * as names from '../../model/tensor-names.js';
import { ExportRefusedError, EXPORT_RULES } from './refusal.js';

/** A module to export; `scalesF32` replaces its fp16 scales when folding rescaled them (kept exact in fp32). */
export type ExportModule = QuantizedLinear & { scalesF32?: Float32Array };

/** Modules after folding, plus float tensors (norms, compensated bf16 weights) that changed. */
export interface Folded {
  modules: Map<string, ExportModule>;
  others: Map<string, Float32Array>;
}

const sameScales = (a: Uint16Array, b: Uint16Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

function withoutScales(q: QuantizedLinear): QuantizedLinear {
  const { channelScales: _dropped, ...rest } = q;
  return rest;
}

/** bf16 weight [out, in] (bits 16) with column j multiplied by s_j, rounded back to bf16. */
function scaleBf16Columns(q: QuantizedLinear, s: Float64Array): QuantizedLinear {
  const codes = new Uint8Array(q.codes.length);
  for (let r = 0; r < q.outFeatures; r++) {
    for (let j = 0; j < q.inFeatures; j++) {
      const t = r * q.inFeatures + j;
      const v = bf16Bits(fromBf16Bits(q.codes[2 * t] | (q.codes[2 * t + 1] << 8)) * s[j]);
      codes[2 * t] = v & 0xff;
      codes[2 * t + 1] = v >>> 8;
    }
  }
  return { ...q, codes };
}

/** Row r of the module's output multiplied by f_r: fp16 scales of a quantized module, or bf16 rows. */
function scaleRows(q: QuantizedLinear, f: Float64Array): ExportModule {
  if (q.spec.bits === 16) {
    const codes = new Uint8Array(q.codes.length);
    for (let t = 0; t < q.outFeatures * q.inFeatures; t++) {
      const v = bf16Bits(fromBf16Bits(q.codes[2 * t] | (q.codes[2 * t + 1] << 8)) * f[Math.floor(t / q.inFeatures)]);
      codes[2 * t] = v & 0xff;
      codes[2 * t + 1] = v >>> 8;
    }
    return { ...q, codes };
  }
  // The export stores scales as fp32, so the rescaled scale needs no fp16 rounding.
  const groups = q.scales.length / q.outFeatures;
  const scalesF32 = Float32Array.from(q.scales, (h, i) => fromFp16Bits(h) * f[Math.floor(i / groups)]);
  return { ...q, scalesF32 };
}

/**
 * Folds every module's channel scales into the op before it. Refuses (rule vllm.awq.fold-shared-input)
 * when quantized modules that read one input carry different scales, or some carry none.
 */
export function foldAwqScales(config: ProxyConfig, modules: ReadonlyMap<string, QuantizedLinear>, others: ReadonlyMap<string, Float32Array>): Folded {
  const mods = new Map<string, ExportModule>(modules);
  const out = new Map(others);
  const get = (name: string): QuantizedLinear => {
    const q = mods.get(name);
    if (!q) throw new Error(`awq fold: module ${name} missing`);
    return q;
  };
  // One input, several readers: q/k/v after input_layernorm, router+gate/up after post_attention_layernorm.
  const foldShared = (norm: string, readers: string[], bf16Compensated: string[]): void => {
    const withScales = readers.filter((n) => get(n).channelScales);
    if (withScales.length === 0) return;
    const s0 = get(withScales[0]).channelScales!;
    const differing = readers.filter((n) => {
      const q = get(n);
      if (q.channelScales) return !sameScales(q.channelScales, s0);
      return q.spec.bits !== 16; // a quantized reader without s would need requantizing to see x/s
    });
    if (differing.length > 0) {
      throw new ExportRefusedError(EXPORT_RULES.awqShared, [withScales[0], ...differing], 'modules that read one input carry different AWQ channel scales, so no single norm can absorb them');
    }
    const s = Float64Array.from(s0, (h) => fromFp16Bits(h));
    const gamma = out.get(norm);
    if (!gamma) throw new Error(`awq fold: norm ${norm} missing`);
    out.set(norm, Float32Array.from(gamma, (g, j) => g / s[j]));
    for (const n of readers) {
      const q = get(n);
      mods.set(n, q.channelScales ? withoutScales(q) : scaleBf16Columns(q, s));
    }
    for (const n of bf16Compensated) mods.set(n, scaleBf16Columns(get(n), s));
  };
  for (let l = 0; l < config.num_hidden_layers; l++) {
    foldShared(names.inputNormTensor(l), [names.attnTensor(l, 'q'), names.attnTensor(l, 'k'), names.attnTensor(l, 'v')], []);
    const o = get(names.attnTensor(l, 'o'));
    if (o.channelScales) throw new ExportRefusedError(EXPORT_RULES.awqAttentionOutput, [names.attnTensor(l, 'o')], 'o_proj AWQ scales would have to fold into v_proj rows shared by several query heads');
    const experts: string[] = [];
    for (let e = 0; e < config.num_experts; e++) experts.push(names.expertTensor(l, e, 'gate'), names.expertTensor(l, e, 'up'));
    const router = get(names.routerTensor(l));
    if (router.spec.bits !== 16) throw new ExportRefusedError(EXPORT_RULES.router, [names.routerTensor(l)], 'the router stays bf16');
    foldShared(names.postAttnNormTensor(l), experts, [names.routerTensor(l)]);
    for (let e = 0; e < config.num_experts; e++) {
      const down = get(names.expertTensor(l, e, 'down'));
      if (!down.channelScales) continue;
      // down_proj reads silu(gate·x) ⊙ (up·x): dividing up_proj's output row j by s_j divides its input.
      const inv = Float64Array.from(down.channelScales, (h) => 1 / fromFp16Bits(h));
      mods.set(names.expertTensor(l, e, 'up'), scaleRows(get(names.expertTensor(l, e, 'up')), inv));
      mods.set(names.expertTensor(l, e, 'down'), withoutScales(down));
    }
  }
  foldShared(names.FINAL_NORM, [names.LM_HEAD], []);
  return { modules: mods, others: out };
}
