// llama.cpp (GGUF via llama-quantize), as read from the llama.cpp source that llama-cpp-python
// 0.3.36 vendors (PyPI sdist, vendor/llama.cpp); paths below are inside that tree. Re-read them
// when the pinned build moves.
import type { ServingStackTableInput } from '../../schema/serving-stack.js';

const GGML_TYPES = { source: 'ggml/src/ggml-common.h', evidence: 'blocks of 32: Q8_0 (scale only), Q4_0 (scale only), Q4_1 (scale and min)' };
// The recipe's grid is re-quantized into the nearest ggml type: 2/3-bit become K-quants, whose rows
// must be whole 256-wide super-blocks (else llama-quantize falls back to another type).
const K_QUANTS = {
  source: 'src/llama-quant.cpp',
  evidence: 'Q2_K (scales and mins) / Q3_K (scales only) in QK_K = 256 super-blocks of 16 (ggml-common.h); tensor_type_fallback replaces them when a row is not a multiple of 256',
};

const ROUTER_KEPT = { source: 'src/llama-quant.cpp', evidence: 'tensor_allows_quantization never quantizes ffn_gate_inp.weight (the router) or norms' };

export const LLAMA_CPP: ServingStackTableInput = {
  stack: 'llama.cpp',
  version: 'vendored by llama-cpp-python 0.3.36',
  researchOnly: false,
  description: 'llama.cpp: GGUF tensors typed per tensor by llama-quantize --tensor-type REGEX=type (first match wins)',
  checkpoints: ['gguf'],
  rules: [
    {
      id: 'llama.cpp.moe.one-type-per-expert-tensor',
      kind: 'same-scheme',
      group: 'expert-tensor',
      provenance: { source: 'src/llama-arch.cpp', evidence: 'a layer\'s experts are one 3-D tensor (blk.%d.ffn_{gate,up,down}_exps), so one type per layer and projection; llama-quantize types whole tensors (tools/quantize/quantize.cpp --tensor-type, first regex_search match in src/llama-quant.cpp)' },
    },
    {
      // llama.cpp reads one expert count per model (LLM_KV_EXPERT_COUNT, src/llama-model.cpp
      // load_hparams), so a uniformly pruned or merged GGUF loads; evoquant's llama.cpp export is a
      // --tensor-type file and script run on the original model, which has every expert.
      id: 'llama.cpp.checkpoint.gguf.evoquant',
      kind: 'checkpoint-limits',
      format: 'gguf',
      features: ['expert-reduction'],
      provenance: {
        source: 'science/export/llama-cpp.ts (evoquant\'s writer)',
        evidence:
          'src/llama-model.cpp reads %s.expert_count (LLM_KV_EXPERT_COUNT, src/llama-arch.cpp) as the one n_expert of the model; evoquant\'s export writes llama-quantize tensor types for the original model and no GGUF with fewer experts',
      },
    },
    {
      id: 'llama.cpp.kernels.dense-linear',
      kind: 'kernels',
      moduleKind: 'dense-linear',
      provenance: GGML_TYPES,
      kernels: [
        { id: 'ggml-bf16', weight: 'bf16', bits: [16], activations: ['bf16'], minSm: 0, provenance: GGML_TYPES },
        { id: 'ggml-quant', weight: 'int', bits: [4, 8], groupSizes: [32], asymmetricBits: [4], activations: ['bf16'], minSm: 0, provenance: GGML_TYPES },
        { id: 'ggml-quant-k', weight: 'int', bits: [2, 3], groupSizes: [32], asymmetricBits: [2], activations: ['bf16'], minSm: 0, kMultiple: 256, provenance: K_QUANTS },
      ],
    },
    {
      id: 'llama.cpp.kernels.moe-experts',
      kind: 'kernels',
      moduleKind: 'moe-experts',
      provenance: GGML_TYPES,
      kernels: [
        { id: 'ggml-bf16-exps', weight: 'bf16', bits: [16], activations: ['bf16'], minSm: 0, provenance: GGML_TYPES },
        { id: 'ggml-quant-exps', weight: 'int', bits: [4, 8], groupSizes: [32], asymmetricBits: [4], activations: ['bf16'], minSm: 0, provenance: GGML_TYPES },
        { id: 'ggml-quant-exps-k', weight: 'int', bits: [2, 3], groupSizes: [32], asymmetricBits: [2], activations: ['bf16'], minSm: 0, kMultiple: 256, provenance: K_QUANTS },
      ],
    },
    {
      id: 'llama.cpp.kernels.router',
      kind: 'kernels',
      moduleKind: 'router',
      provenance: ROUTER_KEPT,
      kernels: [
        { id: 'ggml-bf16-router', weight: 'bf16', bits: [16], activations: ['bf16'], minSm: 0, provenance: ROUTER_KEPT },
      ],
    },
    {
      id: 'llama.cpp.kernels.embeddings',
      kind: 'kernels',
      moduleKind: 'embeddings',
      provenance: GGML_TYPES,
      kernels: [
        { id: 'ggml-bf16-embd', weight: 'bf16', bits: [16], activations: ['bf16'], minSm: 0, provenance: GGML_TYPES },
        { id: 'ggml-quant-embd', weight: 'int', bits: [4, 8], groupSizes: [32], asymmetricBits: [4], activations: ['bf16'], minSm: 0, provenance: GGML_TYPES },
        { id: 'ggml-quant-embd-k', weight: 'int', bits: [2, 3], groupSizes: [32], asymmetricBits: [2], activations: ['bf16'], minSm: 0, kMultiple: 256, provenance: K_QUANTS },
      ],
    },
    {
      id: 'llama.cpp.transform.none',
      kind: 'unsupported',
      feature: 'rotation',
      moduleKinds: ['dense-linear', 'moe-experts', 'router', 'embeddings'],
      provenance: { ...GGML_TYPES, evidence: 'no GGUF tensor type or graph op applies an online Hadamard rotation to stored weights\' inputs' },
    },
    {
      id: 'llama.cpp.outliers.none',
      kind: 'unsupported',
      feature: 'outliers',
      moduleKinds: ['dense-linear', 'moe-experts', 'router', 'embeddings'],
      provenance: { ...GGML_TYPES, evidence: 'no block type stores sparse fp16 outliers' },
    },
    {
      id: 'llama.cpp.awq.fold-shared-input',
      kind: 'unsupported',
      feature: 'awq-unshared-scales',
      moduleKinds: ['dense-linear', 'moe-experts'],
      provenance: {
        source: 'awq-py/awq/apply_awq.py',
        evidence:
          'GGUF has no per-input-channel scale tensor (ggml-common.h); AWQ reaches llama.cpp only folded into the float weights before conversion, as the since-removed awq-py did: scale_ln_fcs divides the norm by s and multiplies every fc reading it, so modules sharing a norm need one vector (method.scales: shared-input); llama-quantize then re-quantizes the scaled weights in its own types',
      },
    },
    {
      id: 'llama.cpp.awq.o-proj-gqa',
      kind: 'unsupported',
      feature: 'awq-gqa-output',
      moduleKinds: ['dense-linear'],
      provenance: {
        source: 'awq-py/awq/apply_awq.py',
        evidence: 'scale_fc_fc folds o_proj\'s s into v_proj\'s last len(s) output rows: with grouped KV heads v_proj has fewer rows than o_proj has inputs, so the fold does not exist',
      },
    },
    {
      // Blocks of 32 along the head dimension of one token: only q4_1 (asymmetric 4-bit, fp16 scale
      // d and fp16 min m per 32) is a policy format exactly (int4, axis token, group 32). q8_0,
      // q4_0, q5_0 are symmetric, q5_1 is 5-bit, iq4_nl a non-linear grid: no policy maps onto them.
      id: 'llama.cpp.kv-cache.types',
      kind: 'kv-cache',
      storages: [
        { name: 'bf16', format: 'bf16' },
        { name: 'q4_1', format: 'int4', axis: 'token', groupSizes: [32] },
      ],
      features: ['mixed-kv'],
      provenance: {
        source: 'common/arg.cpp',
        evidence:
          'kv_cache_types for --cache-type-k and --cache-type-v (set apart): f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1; block_q4_1 = 2 ggml_half (d, m) + QK4_1/2 bytes, QK4_1 32 (ggml/src/ggml-common.h); one type for every layer; Kcur cached after ggml_rope_ext (src/models/llama.cpp); no full-precision windows or sinks',
      },
    },
  ],
};
