// Module names in the Hugging Face layout the proxy exports as (Mixtral: no q/k norm, top-2
// renormalised routing, no shared expert), and regex fragments that match them as the consuming
// tools see them. Mixtral's checkpoint names its MoE block `block_sparse_moe` and its experts'
// projections w1/w3/w2; transformers ≥ 5, GPTQModel 7.7 (models/definitions/mixtral.py: "mlp|block_sparse_moe",
// "gate_proj|w1") and llm-compressor 0.14 (modeling/moe: experts linearised as mlp.experts.E.gate_proj)
// name the same modules `mlp` and gate_proj/up_proj/down_proj at runtime. Every regex accepts both.
import type { ExportModule, Projection } from './modules.js';

const MIXTRAL_EXPERT: Record<'gate' | 'up' | 'down', string> = { gate: 'w1', up: 'w3', down: 'w2' };

/** The canonical Mixtral module name (no `.weight`), as the compressed-tensors export writes it. */
export function mixtralModuleName(m: Pick<ExportModule, 'projection' | 'layer' | 'expert'>): string {
  const pre = `model.layers.${m.layer}.`;
  switch (m.projection) {
    case 'embed':
      return 'model.embed_tokens';
    case 'lm_head':
      return 'lm_head';
    case 'q':
    case 'k':
    case 'v':
    case 'o':
      return `${pre}self_attn.${m.projection}_proj`;
    case 'router':
      return `${pre}block_sparse_moe.gate`;
    case 'gate':
    case 'up':
    case 'down':
      return `${pre}block_sparse_moe.experts.${m.expert}.${MIXTRAL_EXPERT[m.projection]}`;
  }
}

/** The same module under the runtime names of transformers ≥ 5 (mlp.experts.E.gate_proj). */
export function runtimeModuleName(m: Pick<ExportModule, 'projection' | 'layer' | 'expert'>): string {
  const pre = `model.layers.${m.layer}.`;
  if (m.projection === 'router') return `${pre}mlp.gate`;
  if (m.projection === 'gate' || m.projection === 'up' || m.projection === 'down') return `${pre}mlp.experts.${m.expert}.${m.projection}_proj`;
  return mixtralModuleName(m);
}

/** Regex alternation of the MoE block's two names. */
export const MOE_BLOCK = '(?:block_sparse_moe|mlp)';
const EXPERT_PROJ: Record<'gate' | 'up' | 'down', string> = { gate: '(?:w1|gate_proj)', up: '(?:w3|up_proj)', down: '(?:w2|down_proj)' };

/** `3` or `(?:0|2|3)`: the layers a rule covers. */
export function layerAlternation(layers: readonly number[]): string {
  return layers.length === 1 ? String(layers[0]) : `(?:${layers.join('|')})`;
}

/** Anchored regex (no prefix) for one module kind in the given layers, in both naming schemes. */
export function moduleRegex(projection: Projection | 'experts', layers: readonly number[]): string {
  const pre = `^model\\.layers\\.${layerAlternation(layers)}\\.`;
  switch (projection) {
    case 'embed':
      return '^model\\.embed_tokens$';
    case 'lm_head':
      return '^lm_head$';
    case 'q':
    case 'k':
    case 'v':
    case 'o':
      return `${pre}self_attn\\.${projection}_proj$`;
    case 'router':
      return `${pre}${MOE_BLOCK}\\.gate$`;
    case 'experts':
      // The merged experts module and everything below it (GPTQModel README, "Fused Modules").
      return `${pre}${MOE_BLOCK}\\.experts(?:\\.|$)`;
    case 'gate':
    case 'up':
    case 'down':
      return `${pre}${MOE_BLOCK}\\.experts\\.\\d+\\.${EXPERT_PROJ[projection]}$`;
  }
}
