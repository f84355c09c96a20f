// evoquant's own executor: it runs every gene, including research designs no real stack serves
// (per-expert bit tiers, sparse fp16 outliers, Hadamard on experts, 2/3-bit dense layers through
// Humming in science/hardware/kernels.ts, the kernel vLLM also uses). Only the hardware profile's
// kernel table and shard shapes limit it, as before serving stacks existed. It caches every KV policy
// (KIVI int2/int4 per-channel keys, recent windows, sinks, pre-RoPE and Hadamard keys, per-layer
// bands): the dense proxy's forward pass stores K and V as the policy says (science/model/dense-*).
import type { ServingStackTableInput } from '../../schema/serving-stack.js';

export const REFERENCE: ServingStackTableInput = {
  stack: 'reference',
  version: 'evoquant',
  researchOnly: true,
  description: 'evoquant reference executor: every design runs; results are research, not deployable as is',
  checkpoints: ['evoquant'],
  rules: [],
};
