// Starting an evolution: one evolutionWorkflow on the control queue, id `<config.name>-<random>`.
import { randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { CONTROL_TASK_QUEUE, type EvolutionInput } from '../../schema/workflow-contracts.js';
import type { EvolutionConfig } from '../../schema/evolution-config.js';
import type { evolutionWorkflow } from '../../workflows/evolution.js';
import { EngineRequestError } from './errors.js';

export const EVOLUTION_WORKFLOW_TYPE = 'evolutionWorkflow';
export const GENERATION_WORKFLOW_TYPE = 'generationWorkflow';

/** `<name>-<6 base36 chars>`: readable, and two starts of one config never collide. */
export function newEvolutionId(name: string): string {
  const suffix = (randomBytes(5).readUIntBE(0, 5) % 36 ** 6).toString(36).padStart(6, '0');
  return `${name}-${suffix}`;
}

export interface StartedEvolution {
  id: string;
  runId: string;
}

/**
 * Starts the workflow; it waits in Temporal until a control worker picks it up. Pass an already
 * validated config (engine/config-file.ts, engine/config-checks.ts).
 */
export async function startEvolution(client: Client, config: EvolutionConfig, options: { id?: string } = {}): Promise<StartedEvolution> {
  const id = options.id ?? newEvolutionId(config.name);
  const input: EvolutionInput = { evolutionId: id, config };
  try {
    // By type name, so this process never loads workflow code.
    const handle = await client.workflow.start<typeof evolutionWorkflow>(EVOLUTION_WORKFLOW_TYPE, {
      taskQueue: CONTROL_TASK_QUEUE,
      workflowId: id,
      args: [input],
      // The id keys the evolution's rows in Postgres too: never reuse it.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
    return { id, runId: handle.firstExecutionRunId };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new EngineRequestError(`evolution ${id} already exists`);
    throw err;
  }
}
