// Evolutions sized for 2 CPU cores, started and awaited straight through a Temporal client.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { CONTROL_TASK_QUEUE, type EvolutionStatus } from '../../schema/workflow-contracts.js';
import { EvolutionConfig, type EvolutionConfigInput } from '../../schema/evolution-config.js';
import type { evolutionWorkflow } from '../../workflows/evolution.js';
import { builtinRecipe } from '../../science/recipes/builtin.js';
import { Recipe } from '../../schema/recipe.js';
import { statusQuery } from '../../workflows/messages.js';

/** The trained proxy (resolved against the repository root by the workers). */
export const TEST_PROXY = 'artifacts/proxy';

/** A tiny evolution: one cheap, feasible 4-bit candidate per generation on the reference executor. */
export function tinyConfig(overrides: Partial<EvolutionConfigInput> = {}): EvolutionConfig {
  return EvolutionConfig.parse({
    name: 'engine-test',
    target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2 },
    pool: 'cpu',
    proxy: TEST_PROXY,
    generations: 1,
    populationSize: 1,
    seedRecipes: ['w4a16-g128-rtn'],
    evaluation: { tokens: 1024, calibrationTokens: 512, heartbeatSeconds: 3, maxAttempts: 5 },
    // Measuring the manual recipes for discoveries is test/agents-engine.test.ts's business.
    agents: { discoveries: false },
    ...overrides,
  });
}

/**
 * A second cheap seed that the default stack (vllm) serves and that fits: w4a16 RTN with groups of
 * 64. (w3a16 has no vLLM dense kernel, so compile now rejects it as not-servable.)
 */
export const W4_G64_RTN: Recipe = Recipe.parse({ ...builtinRecipe('w4a16-g128-rtn')!, name: 'w4a16-g64-rtn', default: { ...builtinRecipe('w4a16-g128-rtn')!.default, groupSize: 64 } });

let counter = 0;
/** Workflow ids unique within the file's Temporal server (which outlives each test's database). */
export function evolutionId(label: string): string {
  return `evo-${label}-${process.pid}-${++counter}`;
}

export async function startEvolution(
  client: Client,
  id: string,
  config: EvolutionConfig,
): Promise<WorkflowHandle<typeof evolutionWorkflow>> {
  return client.workflow.start<typeof evolutionWorkflow>('evolutionWorkflow', {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId: id,
    args: [{ evolutionId: id, config }],
  });
}

/** The evolution's result, failing the test after `timeoutMs` instead of hanging until ava's timeout. */
export async function resultWithin(handle: WorkflowHandle<typeof evolutionWorkflow>, timeoutMs: number): Promise<EvolutionStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`evolution ${handle.workflowId} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([handle.result(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function queryStatus(handle: WorkflowHandle<typeof evolutionWorkflow>): Promise<EvolutionStatus> {
  return handle.query(statusQuery);
}
