// HF config.json fixtures for the physics tests (values as published on the Hugging Face hub).

export const LLAMA3_8B = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  vocab_size: 128256,
  max_position_embeddings: 8192,
  tie_word_embeddings: false,
  attention_bias: false,
  mlp_bias: false,
  rope_theta: 500000.0,
  torch_dtype: 'bfloat16',
};

export const MIXTRAL_8X7B = {
  architectures: ['MixtralForCausalLM'],
  model_type: 'mixtral',
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  num_local_experts: 8,
  num_experts_per_tok: 2,
  vocab_size: 32000,
  max_position_embeddings: 32768,
  tie_word_embeddings: false,
};

/** The proxy's config (model-training/train.py). */
export const PROXY = {
  model_type: 'evoquant_moe',
  architectures: ['EvoquantMoeForCausalLM'],
  hidden_size: 128,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 32,
  num_experts: 8,
  num_experts_per_tok: 2,
  moe_intermediate_size: 256,
  norm_topk_prob: true,
  vocab_size: 256,
  max_position_embeddings: 128,
  tie_word_embeddings: false,
};

/** Qwen2.5-7B: dense, q/k/v biases. */
export const QWEN25_7B = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 3584,
  intermediate_size: 18944,
  num_hidden_layers: 28,
  num_attention_heads: 28,
  num_key_value_heads: 4,
  vocab_size: 152064,
  max_position_embeddings: 131072,
  tie_word_embeddings: false,
};
