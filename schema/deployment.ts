// Deployment: how many GPUs serve the model and how (tensor × pipeline parallel), for how long a
// context and how many concurrent sequences. A target adds the model and the hardware profile.
import { z } from 'zod';
import { FAILURE_TYPES } from './failures.js';
import { CheckpointFormat, ServingStackId } from './serving-stack.js';

const posInt = z.number().int().positive();

const deploymentShape = {
  gpus: posInt.max(4096),
  /** GPUs that split every layer; gpus / tensorParallel pipeline stages split the layers. */
  tensorParallel: posInt,
  /** Tokens per sequence held in the KV cache (prompt + generated). */
  contextLength: posInt.max(16_777_216).default(4096),
  /** Sequences decoded concurrently. */
  batch: posInt.max(1_000_000).default(1),
};

function checkParallel(d: { gpus: number; tensorParallel: number }, ctx: z.RefinementCtx): void {
  if (d.tensorParallel > d.gpus || d.gpus % d.tensorParallel !== 0) {
    ctx.addIssue({ code: 'custom', path: ['tensorParallel'], message: `${d.tensorParallel} must divide gpus ${d.gpus} (gpus = tensorParallel × pipeline stages)` });
  }
}

export const Deployment = z.object(deploymentShape).strict().superRefine(checkParallel);
export type Deployment = z.infer<typeof Deployment>;
export type DeploymentInput = z.input<typeof Deployment>;

/**
 * A compile target: model (shipped name or config.json path), hardware profile id, deployment, and
 * the serving stack (default vllm) with the checkpoint format it loads (default its first).
 */
export const Target = z
  .object({ model: z.string().min(1), hardware: z.string().min(1), ...deploymentShape, stack: ServingStackId.optional(), checkpoint: CheckpointFormat.optional() })
  .strict()
  .superRefine(checkParallel);
export type Target = z.infer<typeof Target>;
export type TargetInput = z.input<typeof Target>;

export function pipelineStages(d: Deployment): number {
  return d.gpus / d.tensorParallel;
}

/** A deployment or target that fails validation; the message names the field at fault. */
export class InvalidDeploymentError extends Error {
  override readonly name = FAILURE_TYPES.invalidDeployment;
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

function parseWith<T>(schema: z.ZodType<T>, prefix: string, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new InvalidDeploymentError(issue.path.length ? `${prefix}.${issue.path.join('.')}` : prefix, issue.message);
  }
  return result.data;
}

export function parseDeployment(input: unknown): Deployment {
  return parseWith(Deployment, 'deployment', input);
}

export function parseTarget(input: unknown): Target {
  return parseWith(Target, 'target', input);
}
