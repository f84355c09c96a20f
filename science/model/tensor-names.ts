// HF (Qwen3-MoE) tensor names of the proxy model.
export const EMBED = 'model.embed_tokens.weight';
export const FINAL_NORM = 'model.norm.weight';
export const LM_HEAD = 'lm_head.weight';

export const layerTensor = (layer: number, suffix: string): string => `model.layers.${layer}.${suffix}`;
export const attnTensor = (layer: number, proj: 'q' | 'k' | 'v' | 'o'): string => layerTensor(layer, `self_attn.${proj}_proj.weight`);
export const routerTensor = (layer: number): string => layerTensor(layer, 'mlp.gate.weight');
export const expertTensor = (layer: number, expert: number, proj: 'gate' | 'up' | 'down'): string =>
  layerTensor(layer, `mlp.experts.${expert}.${proj}_proj.weight`);
export const inputNormTensor = (layer: number): string => layerTensor(layer, 'input_layernorm.weight');
export const postAttnNormTensor = (layer: number): string => layerTensor(layer, 'post_attention_layernorm.weight');
/** A dense (Llama) layer's SwiGLU MLP. */
export const mlpTensor = (layer: number, proj: 'gate' | 'up' | 'down'): string => layerTensor(layer, `mlp.${proj}_proj.weight`);
