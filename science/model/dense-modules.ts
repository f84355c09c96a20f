// The dense proxy's linear modules: tensor name, recipe role, position, shape and calibration input.
// Its MLP's gate/up/down all take the recipe role `dense_mlp`, as a dense layer of a served model does.
import type { DenseProxyConfig } from '../../schema/dense-proxy-config.js';
import type { CalibrationSite } from './calibration-site.js';
import type { ProxyModule } from './modules.js';
import * as names from './tensor-names.js';

export function denseModules(c: DenseProxyConfig): ProxyModule[] {
  const d = c.hidden_size;
  const qDim = c.num_attention_heads * c.head_dim;
  const kvDim = c.num_key_value_heads * c.head_dim;
  const f = c.intermediate_size;
  const modules: ProxyModule[] = [{ tensor: names.EMBED, role: 'embeddings', layer: null, expert: null, outFeatures: c.vocab_size, inFeatures: d, calibration: null }];
  for (let layer = 0; layer < c.num_hidden_layers; layer++) {
    const attnIn: CalibrationSite = { kind: 'attention_input', layer };
    const mlpIn: CalibrationSite = { kind: 'mlp_input', layer };
    modules.push(
      { tensor: names.attnTensor(layer, 'q'), role: 'attn_q', layer, expert: null, outFeatures: qDim, inFeatures: d, calibration: attnIn },
      { tensor: names.attnTensor(layer, 'k'), role: 'attn_k', layer, expert: null, outFeatures: kvDim, inFeatures: d, calibration: attnIn },
      { tensor: names.attnTensor(layer, 'v'), role: 'attn_v', layer, expert: null, outFeatures: kvDim, inFeatures: d, calibration: attnIn },
      { tensor: names.attnTensor(layer, 'o'), role: 'attn_o', layer, expert: null, outFeatures: d, inFeatures: qDim, calibration: { kind: 'attention_output_input', layer } },
      { tensor: names.mlpTensor(layer, 'gate'), role: 'dense_mlp', layer, expert: null, outFeatures: f, inFeatures: d, calibration: mlpIn },
      { tensor: names.mlpTensor(layer, 'up'), role: 'dense_mlp', layer, expert: null, outFeatures: f, inFeatures: d, calibration: mlpIn },
      { tensor: names.mlpTensor(layer, 'down'), role: 'dense_mlp', layer, expert: null, outFeatures: d, inFeatures: f, calibration: { kind: 'mlp_down_input', layer } },
    );
  }
  modules.push({ tensor: names.LM_HEAD, role: 'lm_head', layer: null, expert: null, outFeatures: c.vocab_size, inFeatures: d, calibration: { kind: 'head_input' } });
  return modules;
}
