// HF tensor name → module role, layer and expert, for the Qwen/Llama and Mixtral naming schemes.
// Quantized-checkpoint suffixes (qweight, scales, qzeros, weight_scale, …) map like `weight`.
import type { ModuleRole } from '../../schema/recipe.js';
import type { Projection } from './modules.js';

export interface TensorRole {
  /** Null for RMSNorm weights, which no recipe quantizes. */
  role: ModuleRole | null;
  kind: 'module' | 'norm';
  projection: Projection | 'norm';
  layer: number | null;
  expert: number | null;
  /** The module path without the parameter suffix, e.g. `model.layers.0.self_attn.q_proj`. */
  module: string;
  /** The parameter suffix: weight, bias, qweight, scales, … */
  param: string;
}

const TOP: ReadonlyArray<[RegExp, ModuleRole | null, Projection | 'norm']> = [
  [/^(model\.embed_tokens)\.(\w+)$/, 'embeddings', 'embed'],
  [/^(lm_head)\.(\w+)$/, 'lm_head', 'lm_head'],
  [/^(model\.norm)\.(\w+)$/, null, 'norm'],
];

const PROJ: Record<string, 'gate' | 'up' | 'down'> = { gate: 'gate', up: 'up', down: 'down', w1: 'gate', w3: 'up', w2: 'down' };

/** The part of a layer tensor name after `model.layers.{i}.` and before the parameter suffix. */
function layerModule(path: string): { role: ModuleRole | null; projection: Projection | 'norm'; expert: number | null } | null {
  let m = /^self_attn\.([qkvo])_proj$/.exec(path);
  if (m) return { role: `attn_${m[1] as 'q' | 'k' | 'v' | 'o'}`, projection: m[1] as 'q' | 'k' | 'v' | 'o', expert: null };
  if (/^(self_attn\.[qk]_norm|input_layernorm|post_attention_layernorm)$/.test(path)) return { role: null, projection: 'norm', expert: null };
  if (/^(mlp|block_sparse_moe)\.gate$/.test(path)) return { role: 'router', projection: 'router', expert: null };
  if (path === 'mlp.shared_expert_gate') return { role: 'router', projection: 'shared_gate', expert: null };
  m = /^mlp\.experts\.(\d+)\.(gate|up|down)_proj$/.exec(path) ?? /^block_sparse_moe\.experts\.(\d+)\.(w[123])$/.exec(path);
  if (m) {
    const p = PROJ[m[2]];
    return { role: `expert_${p}`, projection: p, expert: Number(m[1]) };
  }
  m = /^mlp\.shared_expert\.(gate|up|down)_proj$/.exec(path);
  if (m) return { role: 'shared_expert', projection: PROJ[m[1]], expert: null };
  m = /^mlp\.(gate|up|down)_proj$/.exec(path);
  if (m) return { role: 'dense_mlp', projection: PROJ[m[1]], expert: null };
  return null;
}

/** The role of a HF tensor, or null for a name outside the supported families. */
export function roleOfTensor(name: string): TensorRole | null {
  for (const [re, role, projection] of TOP) {
    const m = re.exec(name);
    if (m) return { role, kind: role ? 'module' : 'norm', projection, layer: null, expert: null, module: m[1], param: m[2] };
  }
  const m = /^model\.layers\.(\d+)\.(.+)\.(\w+)$/.exec(name);
  if (!m) return null;
  const found = layerModule(m[2]);
  if (!found) return null;
  return {
    ...found,
    kind: found.role ? 'module' : 'norm',
    layer: Number(m[1]),
    module: `model.layers.${m[1]}.${m[2]}`,
    param: m[3],
  };
}
