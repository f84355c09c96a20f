// The proxy's linear modules: tensor name, recipe role, position, shape and calibration input.
import type { CalibrationSite } from './calibration-site.js';
import type { ModuleRole } from '../../schema/recipe.js';
import type { ProxyConfig } from '../../schema/proxy-config.js';
import * as names from './tensor-names.js';

export interface ProxyModule {
  tensor: string;
  role: ModuleRole;
  layer: number | null;
  expert: number | null;
  outFeatures: number;
  inFeatures: number;
  /** The activations this module multiplies; null for the embedding table (a lookup, not a matmul). */
  calibration: CalibrationSite | null;
}

export function proxyModules(c: ProxyConfig): ProxyModule[] {
  const d = c.hidden_size;
  const qDim = c.num_attention_heads * c.head_dim;
  const kvDim = c.num_key_value_heads * c.head_dim;
  const f = c.moe_intermediate_size;
  const modules: ProxyModule[] = [
    { tensor: names.EMBED, role: 'embeddings', layer: null, expert: null, outFeatures: c.vocab_size, inFeatures: d, calibration: null },
  ];
  for (let layer = 0; layer < c.num_hidden_layers; layer++) {
    const attnIn: CalibrationSite = { kind: 'attention_input', layer };
    modules.push(
      { tensor: names.attnTensor(layer, 'q'), role: 'attn_q', layer, expert: null, outFeatures: qDim, inFeatures: d, calibration: attnIn },
      { tensor: names.attnTensor(layer, 'k'), role: 'attn_k', layer, expert: null, outFeatures: kvDim, inFeatures: d, calibration: attnIn },
      { tensor: names.attnTensor(layer, 'v'), role: 'attn_v', layer, expert: null, outFeatures: kvDim, inFeatures: d, calibration: attnIn },
      { tensor: names.attnTensor(layer, 'o'), role: 'attn_o', layer, expert: null, outFeatures: d, inFeatures: qDim, calibration: { kind: 'attention_output_input', layer } },
      { tensor: names.routerTensor(layer), role: 'router', layer, expert: null, outFeatures: c.num_experts, inFeatures: d, calibration: { kind: 'moe_input', layer } },
    );
    for (let expert = 0; expert < c.num_experts; expert++) {
      const expertIn: CalibrationSite = { kind: 'expert_input', layer, expert };
      modules.push(
        { tensor: names.expertTensor(layer, expert, 'gate'), role: 'expert_gate', layer, expert, outFeatures: f, inFeatures: d, calibration: expertIn },
        { tensor: names.expertTensor(layer, expert, 'up'), role: 'expert_up', layer, expert, outFeatures: f, inFeatures: d, calibration: expertIn },
        { tensor: names.expertTensor(layer, expert, 'down'), role: 'expert_down', layer, expert, outFeatures: d, inFeatures: f, calibration: { kind: 'expert_down_input', layer, expert } },
      );
    }
  }
  modules.push({ tensor: names.LM_HEAD, role: 'lm_head', layer: null, expert: null, outFeatures: c.vocab_size, inFeatures: d, calibration: { kind: 'head_input' } });
  return modules;
}
