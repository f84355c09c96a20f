// HF config.json → ModelArchitecture for every supported family.
//
// Family rules (as the HF modelling code reads them):
// - qwen3_moe / qwen2_moe / evoquant_moe: layer i is MoE when num_experts > 0, i is not in
//   mlp_only_layers and (i + 1) % decoder_sparse_step == 0; other layers use a dense MLP of
//   intermediate_size. qwen2_moe adds a gated shared expert; qwen3_moe has none unless
//   shared_expert_intermediate_size says so. qwen3* carry per-head q/k RMSNorms; qwen2* carry q/k/v biases.
// - evoquant_moe (the proxy, model-training/train.py) uses qwen3_moe field names without q/k norms.
// - mixtral: num_local_experts experts of width intermediate_size in every layer.
// - llama / mistral / qwen2 / qwen3: a dense SwiGLU MLP of intermediate_size in every layer.
// Defaults match the HF config classes: num_key_value_heads = num_attention_heads,
// head_dim = hidden_size / num_attention_heads, tie_word_embeddings = false.
import {
  HfModelConfig,
  InvalidModelConfigError,
  MODEL_FAMILIES,
  ModelArchitecture,
  ModelFamily,
  type MlpKind,
  type MoeConfig,
} from '../../schema/model-config.js';
import { echo } from '../../schema/echo.js';

/** max_position_embeddings of the HF config classes when the file leaves it out. */
const DEFAULT_MAX_POSITIONS: Record<ModelFamily, number> = {
  qwen3_moe: 32768,
  qwen2_moe: 32768,
  evoquant_moe: 2048,
  mixtral: 131072,
  llama: 2048,
  mistral: 32768,
  qwen2: 32768,
  qwen3: 32768,
};

export function normaliseModelConfig(raw: unknown, source: string): ModelArchitecture {
  const parsed = HfModelConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidModelConfigError(source, issue.path.join('.') || '(root)', issue.message);
  }
  const c = parsed.data;
  const family = ModelFamily.safeParse(c.model_type);
  if (!family.success) {
    throw new InvalidModelConfigError(source, 'model_type', `unsupported "${echo(c.model_type)}" (supported: ${MODEL_FAMILIES.join(', ')})`);
  }
  const fam = family.data;
  const need = <T>(field: keyof HfModelConfig & string, value: T | null | undefined): T => {
    if (value === undefined || value === null) throw new InvalidModelConfigError(source, field, `required for ${fam}`);
    return value;
  };

  const heads = c.num_attention_heads;
  const kvHeads = c.num_key_value_heads ?? heads;
  if (heads % kvHeads !== 0) throw new InvalidModelConfigError(source, 'num_key_value_heads', `${kvHeads} does not divide num_attention_heads ${heads}`);
  if (!c.head_dim && c.hidden_size % heads !== 0) {
    throw new InvalidModelConfigError(source, 'head_dim', `missing and hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${heads}`);
  }
  const headDim = c.head_dim ?? c.hidden_size / heads;
  const layers = c.num_hidden_layers;

  let moe: MoeConfig | null = null;
  let mlpKinds: MlpKind[];
  let denseIntermediateSize = 0;
  switch (fam) {
    case 'qwen3_moe':
    case 'qwen2_moe':
    case 'evoquant_moe': {
      const experts = c.num_experts ?? 0;
      const step = c.decoder_sparse_step ?? 1;
      const mlpOnly = new Set(c.mlp_only_layers ?? []);
      mlpKinds = Array.from({ length: layers }, (_, i) => (experts > 0 && !mlpOnly.has(i) && (i + 1) % step === 0 ? 'moe' : 'dense'));
      if (experts > 0) {
        const shared = c.shared_expert_intermediate_size ?? 0;
        moe = {
          numExperts: experts,
          numExpertsPerTok: need('num_experts_per_tok', c.num_experts_per_tok),
          expertIntermediateSize: need('moe_intermediate_size', c.moe_intermediate_size),
          sharedExpertIntermediateSize: fam === 'qwen2_moe' ? need('shared_expert_intermediate_size', c.shared_expert_intermediate_size) : shared,
          sharedExpertGate: fam === 'qwen2_moe' || shared > 0,
        };
      }
      if (mlpKinds.includes('dense')) denseIntermediateSize = need('intermediate_size', c.intermediate_size);
      break;
    }
    case 'mixtral':
      moe = {
        numExperts: need('num_local_experts', c.num_local_experts),
        numExpertsPerTok: need('num_experts_per_tok', c.num_experts_per_tok),
        expertIntermediateSize: need('intermediate_size', c.intermediate_size),
        sharedExpertIntermediateSize: 0,
        sharedExpertGate: false,
      };
      mlpKinds = Array.from({ length: layers }, () => 'moe' as const);
      break;
    case 'llama':
    case 'mistral':
    case 'qwen2':
    case 'qwen3':
      denseIntermediateSize = need('intermediate_size', c.intermediate_size);
      mlpKinds = Array.from({ length: layers }, () => 'dense' as const);
      break;
  }
  if (moe && moe.numExpertsPerTok > moe.numExperts) {
    throw new InvalidModelConfigError(source, 'num_experts_per_tok', `${moe.numExpertsPerTok} exceeds the ${moe.numExperts} experts`);
  }

  const arch = {
    name: source,
    family: fam,
    hiddenSize: c.hidden_size,
    numLayers: layers,
    numAttentionHeads: heads,
    numKeyValueHeads: kvHeads,
    headDim,
    vocabSize: c.vocab_size,
    maxPositionEmbeddings: c.max_position_embeddings ?? DEFAULT_MAX_POSITIONS[fam],
    tieWordEmbeddings: c.tie_word_embeddings ?? false,
    attentionBias: fam === 'qwen2' || fam === 'qwen2_moe' ? true : (c.attention_bias ?? false),
    qkNorm: fam === 'qwen3' || fam === 'qwen3_moe',
    denseIntermediateSize,
    moe,
    mlpKinds,
    naming: fam === 'mixtral' ? ('mixtral' as const) : ('qwen' as const),
  };
  const checked = ModelArchitecture.safeParse(arch);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new InvalidModelConfigError(source, issue.path.join('.') || '(root)', issue.message);
  }
  return checked.data;
}
