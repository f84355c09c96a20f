// evoquant's own executor: it runs every gene, including research designs no real stack serves
// (per-expert bit tiers, sparse fp16 outliers, Hadamard on experts, 2/3-bit dense layers through
// Humming in science/hardware/kernels.ts, the kernel vLLM also uses). Only the hardware profile's
// kernel table and shard shapes limit it, as before serving stacks existed.
import type { ServingStackTableInput } from '../../schema/serving-stack.js';

export const REFERENCE: ServingStackTableInput = {
  stack: 'reference',
  version: 'evoquant',
  researchOnly: true,
  description: 'evoquant reference executor: every design runs; results are research, not deployable as is',
  checkpoints: ['evoquant'],
  rules: [],
};
