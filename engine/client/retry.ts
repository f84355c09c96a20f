// Re-running failed evaluations. A running evolution takes a `retry` update and runs the round
// itself; a completed one gets a generation workflow started directly (`<id>/retry-<time36>`),
// over the candidates Postgres holds as failed or infeasible, and we wait for its outcomes.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { listCandidates } from '../db/candidates.js';
import { getEvolution, latestGeneration } from '../db/evolutions.js';
import type { Database } from '../../schema/db.js';
import { CONTROL_TASK_QUEUE, type CandidateSummary, type EvolutionInput, type GenerationInput, type GenerationResult } from '../../schema/workflow-contracts.js';
import { EvolutionConfig } from '../../schema/evolution-config.js';
import type { generationWorkflow } from '../../workflows/generation.js';
import { queueRetry, type UpdateOptions } from './control.js';
import { EngineRequestError } from './errors.js';
import { findEvolution } from './evolutions.js';
import { GENERATION_WORKFLOW_TYPE } from './start.js';

const RETRYABLE = new Set(['failed', 'infeasible']);

export type RetryReport =
  | { mode: 'queued'; evolutionId: string; queued: string[] }
  | { mode: 'ran'; evolutionId: string; workflowId: string; generation: number; candidates: CandidateSummary[] }
  | { mode: 'nothing'; evolutionId: string; reason: string };

export interface RetryOptions extends UpdateOptions {
  /** Called once the detached round has started (before waiting for it). */
  onStarted?: (workflowId: string, candidateIds: string[]) => void;
}

/** The config an evolution started with: its Postgres row, else the workflow's start input. */
async function configOf(client: Client, db: Kysely<Database>, evolutionId: string): Promise<EvolutionConfig> {
  const row = await getEvolution(db, evolutionId);
  if (row) return EvolutionConfig.parse(row.config);
  const history = await client.workflow.getHandle(evolutionId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error(`evolution ${evolutionId}: neither a database row nor a start input holds its config`);
  return EvolutionConfig.parse(defaultPayloadConverter.fromPayload<EvolutionInput>(payload).config);
}

/** Which candidates to re-run: the given ones (each must be a failed candidate of this evolution) or all failed ones. */
export async function retryCandidates(db: Kysely<Database>, evolutionId: string, requested: readonly string[] | undefined): Promise<string[]> {
  const rows = await listCandidates(db, evolutionId);
  if (requested === undefined || requested.length === 0) return rows.filter((r) => RETRYABLE.has(r.status)).map((r) => r.id);
  for (const id of requested) {
    const row = rows.find((r) => r.id === id);
    if (!row) throw new EngineRequestError(`candidate ${id} is not part of evolution ${evolutionId}`);
    if (!RETRYABLE.has(row.status)) throw new EngineRequestError(`candidate ${id} is ${row.status}, not failed`);
  }
  return [...new Set(requested)];
}

export async function retryEvolution(
  client: Client,
  db: Kysely<Database>,
  evolutionId: string,
  requested: readonly string[] | undefined,
  options: RetryOptions = {},
): Promise<RetryReport> {
  const { description } = await findEvolution(client, evolutionId);
  const wanted = requested !== undefined && requested.length > 0 ? [...requested] : undefined;
  if (description.status.name === 'RUNNING') {
    // The workflow's validator checks the candidates against its own state.
    const { queued } = await queueRetry(client, evolutionId, wanted, options);
    return { mode: 'queued', evolutionId, queued };
  }
  if (description.status.name !== 'COMPLETED') {
    throw new EngineRequestError(`evolution ${evolutionId} is ${description.status.name.toLowerCase()}; retry needs a running or completed evolution`);
  }
  const ids = await retryCandidates(db, evolutionId, wanted);
  if (ids.length === 0) return { mode: 'nothing', evolutionId, reason: 'no failed or infeasible candidates' };
  const config = await configOf(client, db, evolutionId);
  const last = await latestGeneration(db, evolutionId);
  const generation = last?.number ?? 0;
  const workflowId = `${evolutionId}/retry-${Date.now().toString(36)}`;
  const input: GenerationInput = { evolutionId, generation, config, retryCandidates: ids };
  const handle = await client.workflow.start<typeof generationWorkflow>(GENERATION_WORKFLOW_TYPE, {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId,
    args: [input],
  });
  options.onStarted?.(workflowId, ids);
  const result: GenerationResult = await handle.result();
  return { mode: 'ran', evolutionId, workflowId, generation, candidates: result.candidates };
}
