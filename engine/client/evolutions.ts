// Reading evolutions from Temporal: find one (or fail as "not found"), its status (the `status`
// query while it runs, its result once closed), the list of all of them, and following a run.
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import type { EvolutionStatus } from '../../schema/workflow-contracts.js';
import { statusQuery } from '../../workflows/messages.js';
import { UnknownEvolutionError } from './errors.js';
import { EVOLUTION_WORKFLOW_TYPE } from './start.js';

/** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, CANCELLED, … */
export type WorkflowStatusName = WorkflowExecutionDescription['status']['name'];

export interface EvolutionHandle {
  handle: WorkflowHandle;
  description: WorkflowExecutionDescription;
}

/** The client raises WorkflowNotFoundError; compare by name too in case two copies of the SDK are loaded. */
export function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (err instanceof Error && err.name === 'WorkflowNotFoundError');
}

/** The evolution's latest run; UnknownEvolutionError when there is none (or the id is another workflow type). */
export async function findEvolution(client: Client, id: string): Promise<EvolutionHandle> {
  const handle = client.workflow.getHandle(id);
  let description: WorkflowExecutionDescription;
  try {
    description = await handle.describe();
  } catch (err) {
    if (isNotFound(err)) throw new UnknownEvolutionError(id);
    throw err;
  }
  // `<id>/gen-0` exists too, but it is a generation, not an evolution.
  if (description.type !== EVOLUTION_WORKFLOW_TYPE) throw new UnknownEvolutionError(id);
  return { handle, description };
}

export interface EvolutionStatusReport {
  id: string;
  runId: string;
  workflowStatus: WorkflowStatusName;
  startTime: string;
  closeTime: string | null;
  /** The workflow's own view; null when it could not be had (no control worker answered, or it failed). */
  status: EvolutionStatus | null;
  /** Why the run ended, when it did not complete. */
  failure: string | null;
  /** Why `status` is missing, in words. */
  note: string | null;
}

export interface StatusOptions {
  /** How long a `status` query may wait for a control worker (default 10 s). */
  queryTimeoutMs?: number;
}

async function queryStatus(client: Client, handle: WorkflowHandle, timeoutMs: number): Promise<{ status: EvolutionStatus | null; note: string | null }> {
  try {
    const status = await client.withDeadline(Date.now() + timeoutMs, () => handle.query(statusQuery));
    return { status, note: null };
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { status: null, note: `no control worker answered the status query within ${Math.round(timeoutMs / 1000)} s (${reason})` };
  }
}

function failureOf(err: unknown): string {
  if (err instanceof WorkflowFailedError) return err.cause?.message ?? err.message;
  return err instanceof Error ? err.message : String(err);
}

export async function evolutionStatus(client: Client, id: string, options: StatusOptions = {}): Promise<EvolutionStatusReport> {
  const { handle, description } = await findEvolution(client, id);
  const base = {
    id,
    runId: description.runId,
    workflowStatus: description.status.name,
    startTime: description.startTime.toISOString(),
    closeTime: description.closeTime?.toISOString() ?? null,
  };
  const timeoutMs = options.queryTimeoutMs ?? 10_000;
  if (description.status.name === 'RUNNING') return { ...base, ...(await queryStatus(client, handle, timeoutMs)), failure: null };
  try {
    // Follows continue-as-new to the last run's result.
    const status = (await handle.result()) as EvolutionStatus;
    return { ...base, status, failure: null, note: null };
  } catch (err) {
    return { ...base, status: null, failure: failureOf(err), note: null };
  }
}

export interface EvolutionListEntry {
  id: string;
  runId: string;
  workflowStatus: WorkflowStatusName;
  startTime: string;
  closeTime: string | null;
}

/** Every evolution, newest first; one entry per id (its latest run after continue-as-new). */
export async function listEvolutionWorkflows(client: Client, options: { limit?: number } = {}): Promise<EvolutionListEntry[]> {
  const limit = options.limit ?? 100;
  const seen = new Map<string, EvolutionListEntry>();
  for await (const info of client.workflow.list({ query: `WorkflowType = '${EVOLUTION_WORKFLOW_TYPE}'` })) {
    const entry: EvolutionListEntry = {
      id: info.workflowId,
      runId: info.runId,
      workflowStatus: info.status.name,
      startTime: info.startTime.toISOString(),
      closeTime: info.closeTime?.toISOString() ?? null,
    };
    const known = seen.get(entry.id);
    // After continue-as-new every run is listed; the newest is the evolution's current one.
    if (known === undefined || entry.startTime > known.startTime) seen.set(entry.id, entry);
  }
  return [...seen.values()].sort((a, b) => (a.startTime < b.startTime ? 1 : a.startTime > b.startTime ? -1 : a.id.localeCompare(b.id))).slice(0, limit);
}

export interface FollowOptions extends StatusOptions {
  intervalMs?: number;
  signal?: AbortSignal;
}

/** Yields the status report each time it changes, the last one once the evolution has closed. */
export async function* followEvolutionStatus(client: Client, id: string, options: FollowOptions = {}): AsyncGenerator<EvolutionStatusReport> {
  let previous = '';
  for (;;) {
    const report = await evolutionStatus(client, id, options);
    const key = JSON.stringify({ ...report, note: report.note === null ? null : 'unanswered' });
    if (key !== previous) {
      previous = key;
      yield report;
    }
    if (report.workflowStatus !== 'RUNNING' || options.signal?.aborted) return;
    try {
      await sleep(options.intervalMs ?? 2_000, undefined, { signal: options.signal });
    } catch {
      return;
    }
  }
}
