// llama.cpp: a --tensor-type-file for llama-quantize (one `regex=type` per line; first match wins:
// src/llama-quant.cpp applies the first pattern that std::regex_search finds in the tensor name;
// tools/quantize/quantize.cpp reads whitespace-separated tokens and lower-cases the regex) and a
// script with the commands that apply it to the original model. GGUF names as convert_hf_to_gguf.py
// writes Mixtral: a layer's experts are one 3-D tensor (blk.N.ffn_{gate,up,down}_exps.weight).
import type { ExportedFile, Exporter } from './export-format.js';
import { ExportRefusedError } from './errors.js';
import { layerAlternation } from './hf-names.js';
import { readQuantizedModel, type ExportModule, type QuantizedModelView } from './modules.js';
import { groupRules, uniformPerUnit, type RuleUnit } from './rules.js';
import { ggmlTypeOf, type GgmlChoice } from './llama-cpp-types.js';
import { refuseExpertReduction } from './text-limits.js';
import { kvCacheTypes } from './kv-cache-flags.js';
import { kvPolicyLabel } from '../physics/kv-cache.js';
import type { ProxyConfig } from '../../schema/proxy-config.js';

export const TENSOR_TYPE_FILE = 'tensor-types.txt';
export const QUANTIZE_SCRIPT = 'llama-quantize.sh';

/** GGUF tensor kinds of a Mixtral-layout model, in the order the rules are listed. */
export const GGUF_RULE_ORDER = ['token_embd', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate_exps', 'ffn_up_exps', 'ffn_down_exps', 'output'] as const;
type GgufKind = (typeof GGUF_RULE_ORDER)[number];

const KIND_OF: Record<ExportModule['projection'], GgufKind | 'ffn_gate_inp'> = {
  embed: 'token_embd',
  q: 'attn_q',
  k: 'attn_k',
  v: 'attn_v',
  o: 'attn_output',
  router: 'ffn_gate_inp',
  gate: 'ffn_gate_exps',
  up: 'ffn_up_exps',
  down: 'ffn_down_exps',
  lm_head: 'output',
};

export interface GgufTensor {
  name: string;
  /** What llama-quantize may quantize (src/llama-quant.cpp: tensor_allows_quantization). */
  quantizable: boolean;
}

/** Every tensor of the proxy's GGUF: 1-D norms and the router stay in their source type. */
export function ggufTensors(c: ProxyConfig): GgufTensor[] {
  const out: GgufTensor[] = [{ name: 'token_embd.weight', quantizable: true }];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const b = `blk.${i}.`;
    out.push(
      { name: `${b}attn_norm.weight`, quantizable: false },
      ...['attn_q', 'attn_k', 'attn_v', 'attn_output'].map((k) => ({ name: `${b}${k}.weight`, quantizable: true })),
      { name: `${b}ffn_norm.weight`, quantizable: false },
      // "do not quantize expert gating tensors"
      { name: `${b}ffn_gate_inp.weight`, quantizable: false },
      ...['ffn_gate_exps', 'ffn_up_exps', 'ffn_down_exps'].map((k) => ({ name: `${b}${k}.weight`, quantizable: true })),
    );
  }
  out.push({ name: 'output_norm.weight', quantizable: false }, { name: 'output.weight', quantizable: true });
  return out;
}

export function ggufTensorOf(m: Pick<ExportModule, 'projection' | 'layer'>): string {
  const kind = KIND_OF[m.projection];
  return m.layer === null ? `${kind}.weight` : `blk.${m.layer}.${kind}.weight`;
}

function ggufRegex(kind: GgufKind, layers: readonly number[]): string {
  return layers.length === 0 ? `^${kind}\\.weight$` : `^blk\\.${layerAlternation(layers)}\\.${kind}\\.weight$`;
}

export interface TensorTypeRule {
  regex: string;
  type: GgmlChoice['type'];
  fidelity: string;
}

export interface LlamaCppExport {
  rules: TensorTypeRule[];
  /** The ftype argument: the quantized type of the most weights (patterns only apply under a quantized ftype). */
  ftype: string;
}

export function llamaCppExport(view: QuantizedModelView): LlamaCppExport {
  refuseExpertReduction('llama.cpp', view.recipe);
  for (const m of view.modules) {
    if (m.projection === 'router' && m.spec.bits !== 16) {
      throw new ExportRefusedError(`llama.cpp: ${m.tensor} is ${m.spec.bits}-bit, but llama-quantize never quantizes the router (ffn_gate_inp; src/llama-quant.cpp: tensor_allows_quantization)`);
    }
    if (m.spec.bits !== 16 && (m.spec.rotation || m.spec.outliers)) throw new ExportRefusedError(`llama.cpp: ${m.tensor} uses a ${m.spec.rotation ? 'Hadamard rotation' : 'sparse fp16 outlier'} gene no GGUF type stores`);
  }
  const modules = view.modules.filter((m) => m.projection !== 'router');
  const uniform = uniformPerUnit(modules, ggufTensorOf, (m) => ggmlTypeOf(m.spec, m.inFeatures, m.tensor).type);
  if (!uniform.ok) throw new ExportRefusedError(`llama.cpp: ${uniform.a.tensor} and ${uniform.b.tensor} share the GGUF tensor ${uniform.unit}, which has one type`);
  const weights = new Map<string, number>();
  const units: RuleUnit<GgmlChoice>[] = modules.map((m) => {
    const choice = ggmlTypeOf(m.spec, m.inFeatures, m.tensor);
    if (choice.type !== 'bf16') weights.set(choice.type, (weights.get(choice.type) ?? 0) + m.inFeatures * m.outFeatures);
    return { kind: KIND_OF[m.projection], layer: m.layer, key: choice.type, value: choice };
  });
  const ftype = [...weights.entries()].sort(([ta, a], [tb, b]) => b - a || (ta < tb ? -1 : 1))[0]?.[0];
  if (!ftype) throw new ExportRefusedError('llama.cpp: the recipe quantizes no tensor (all bf16); there is nothing for llama-quantize to do');
  const rules = groupRules(units, GGUF_RULE_ORDER).map((r) => ({ regex: ggufRegex(r.kind as GgufKind, r.layers), type: r.value.type, fidelity: r.value.fidelity }));
  return { rules, ftype: ftype.toUpperCase() };
}

/** A file name made of the recipe name: letters, digits, dot, dash and underscore only. */
function safeStem(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+/, '');
  return s.slice(0, 80) || 'model';
}

export function quantizeScript(view: QuantizedModelView, exp: LlamaCppExport): string {
  const out = `model-${safeStem(view.recipe.name)}.gguf`;
  const types = [...new Map(exp.rules.filter((r) => r.type !== 'bf16').map((r) => [r.type, r.fidelity])).entries()];
  const kvTypes = kvCacheTypes('llama.cpp', 'llama.cpp', view.recipe.kvCache);
  // A quantized V cache needs flash attention in llama.cpp (src/llama-context.cpp refuses it without).
  const kv = kvTypes ? [`# KV cache (${kvPolicyLabel(view.recipe.kvCache)}): serve with --cache-type-k ${kvTypes.keys} --cache-type-v ${kvTypes.values}${kvTypes.values === 'bf16' ? '' : ' --flash-attn on'}`] : [];
  return [
    '#!/bin/sh',
    `# evoquant export of recipe ${JSON.stringify(view.recipe.name).slice(1, -1).replace(/[^\x20-\x7e]/g, '?')} for llama.cpp.`,
    '# 1. convert the original bf16 Hugging Face model (Mixtral layout) to GGUF;',
    `# 2. llama-quantize gives each tensor the type of the first line of ${TENSOR_TYPE_FILE} that matches it.`,
    '# Types used:',
    ...types.map(([t, f]) => `#   ${t}: ${f}`),
    '# llama-quantize rounds the bf16 weights itself (no GPTQ/AWQ); pass --imatrix FILE for calibration-aware rounding.',
    ...kv,
    'set -eu',
    `HF_MODEL_DIR="\${1:?usage: sh ${QUANTIZE_SCRIPT} HF_MODEL_DIR [LLAMA_CPP_DIR]}"`,
    'LLAMA_CPP="${2:-.}"',
    'HERE="$(cd "$(dirname "$0")" && pwd)"',
    'python3 "$LLAMA_CPP/convert_hf_to_gguf.py" "$HF_MODEL_DIR" --outtype bf16 --outfile model-bf16.gguf',
    `"$LLAMA_CPP/llama-quantize" --tensor-type-file "$HERE/${TENSOR_TYPE_FILE}" model-bf16.gguf ${out} ${exp.ftype}`,
    '',
  ].join('\n');
}

export const exportLlamaCpp: Exporter = (request): ExportedFile[] => {
  const view = readQuantizedModel(request.quantizedDir);
  const exp = llamaCppExport(view);
  const enc = new TextEncoder();
  return [
    { path: TENSOR_TYPE_FILE, bytes: enc.encode(exp.rules.map((r) => `${r.regex}=${r.type}\n`).join('')) },
    { path: QUANTIZE_SCRIPT, bytes: enc.encode(quantizeScript(view, exp)) },
  ];
};
