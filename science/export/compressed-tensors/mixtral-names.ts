// evoquant's proxy tensor names (Qwen3-MoE layout) → the canonical Mixtral names that
// transformers' MixtralForCausalLM and vLLM's mixtral.py load. Mixtral is the proxy's exact
// architecture: no q/k norm, softmax → top-k → renormalised routing, no shared expert.
const EXPERT = /^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$/;
const ROUTER = /^model\.layers\.(\d+)\.mlp\.gate\.weight$/;
const MIXTRAL_PROJ = { gate: 'w1', down: 'w2', up: 'w3' } as const;

/** The Mixtral name of a proxy tensor (`….weight` or any other parameter). */
export function mixtralTensorName(proxyName: string): string {
  const e = EXPERT.exec(proxyName);
  if (e) return `model.layers.${e[1]}.block_sparse_moe.experts.${e[2]}.${MIXTRAL_PROJ[e[3] as keyof typeof MIXTRAL_PROJ]}.weight`;
  const r = ROUTER.exec(proxyName);
  if (r) return `model.layers.${r[1]}.block_sparse_moe.gate.weight`;
  return proxyName;
}

/** The Mixtral module name (no `.weight`) of a proxy linear tensor. */
export function mixtralModuleName(proxyTensor: string): string {
  return mixtralTensorName(proxyTensor).replace(/\.weight$/, '');
}
