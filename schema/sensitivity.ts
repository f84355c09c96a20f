// A sensitivity profile: the damage of quantizing one block alone at each bit width.
import { z } from 'zod';
import { ModuleRole } from './recipe.js';

export const SENSITIVITY_BITS = [2, 3, 4, 8] as const;

export const SensitivityBlock = z.object({
  /** A single role (attention projections, router, embeddings, lm_head) or a whole expert. */
  kind: z.enum(['role', 'expert']),
  role: ModuleRole.nullable(),
  layer: z.number().int().min(0).nullable(),
  expert: z.number().int().min(0).nullable(),
});
export type SensitivityBlock = z.infer<typeof SensitivityBlock>;

export const SensitivityEntry = z.object({
  block: SensitivityBlock,
  params: z.number().int().positive(),
  /** KL(original ‖ block quantized) in bits per byte, keyed by bit width. */
  klBits: z.record(z.string(), z.number().min(0)),
});
export type SensitivityEntry = z.infer<typeof SensitivityEntry>;

export const SensitivityProfile = z.object({
  version: z.literal(1),
  /** sha256 of the model's safetensors bytes. */
  modelHash: z.string(),
  /** How each block was quantized to measure it (RTN, asymmetric, this group size). */
  groupSize: z.number().int().positive(),
  bits: z.array(z.number().int()),
  tokens: z.number().int().positive(),
  entries: z.array(SensitivityEntry),
  /** Share of routed tokens per expert on the same text, [layer][expert]. */
  routingFrequency: z.array(z.array(z.number().min(0).max(1))),
});
export type SensitivityProfile = z.infer<typeof SensitivityProfile>;

/**
 * A dense model's long-context sensitivity (Q-Enhance's evidence): the KL each position bucket
 * suffers when one decoder layer alone is quantized (RTN, asymmetric). Measured on training text.
 */
export const LongContextSensitivity = z.object({
  version: z.literal(1),
  /** sha256 of the model's safetensors bytes. */
  modelHash: z.string(),
  bits: z.number().int(),
  groupSize: z.number().int().positive(),
  tokens: z.number().int().positive(),
  buckets: z.array(z.object({ from: z.number().int().min(0), to: z.number().int().positive() })).min(1),
  /** One entry per decoder layer, in layer order: KL(original ‖ layer quantized) in bits per byte, per bucket. */
  layers: z.array(z.object({ layer: z.number().int().min(0), klBits: z.array(z.number().min(0)) })),
});
export type LongContextSensitivity = z.infer<typeof LongContextSensitivity>;
