// Gathers the event histories behind `evoquant history`: the evolution workflow's own (its latest
// run), its child workflows (`<id>/gen-<n>`, `<id>/retry-<k>`) across all its runs, plus retry rounds
// the CLI started after it completed (`<id>/retry-<timestamp36>`), each folded into rows by
// engine/history.ts.
import type { Client } from '@temporalio/client';
import { EngineRequestError } from './errors.js';
import { findEvolution, isNotFound } from './evolutions.js';
import { summarizeWorkflowHistory, type History, type PendingActivity, type WorkflowHistorySummary } from './history.js';
import { GENERATION_WORKFLOW_TYPE } from './start.js';

export interface EvolutionHistory {
  evolutionId: string;
  /** Chronological: the evolution itself, then generations and retry rounds in the order they started. */
  workflows: WorkflowHistorySummary[];
}

/** Child workflow ids an evolution run started (initiated, so ones not yet running count too). */
export function childWorkflowIds(history: History): string[] {
  const ids: string[] = [];
  for (const event of history.events ?? []) {
    const id = event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    if (id && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

function previousRunId(history: History): string | null {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || null;
}

/** Children of every run: continue-as-new leaves earlier generations in earlier runs' histories. */
async function childrenOfAllRuns(client: Client, evolutionId: string, latestRunId: string): Promise<string[]> {
  const ids: string[] = [];
  const seenRuns = new Set<string>();
  let runId: string | null = latestRunId;
  while (runId !== null && !seenRuns.has(runId)) {
    seenRuns.add(runId);
    const history = await client.workflow.getHandle(evolutionId, runId).fetchHistory();
    for (const id of childWorkflowIds(history)) if (!ids.includes(id)) ids.push(id);
    runId = previousRunId(history);
  }
  return ids;
}

/** Generation workflows named after the evolution that it did not start itself (CLI retry rounds). */
async function detachedRounds(client: Client, evolutionId: string): Promise<string[]> {
  const prefix = `${evolutionId}/`;
  const byType = `WorkflowType = '${GENERATION_WORKFLOW_TYPE}'`;
  const collect = async (query: string): Promise<string[]> => {
    const ids: string[] = [];
    for await (const info of client.workflow.list({ query })) {
      if (info.workflowId.startsWith(prefix) && !ids.includes(info.workflowId)) ids.push(info.workflowId);
    }
    return ids;
  };
  try {
    return await collect(`${byType} AND WorkflowId STARTS_WITH '${prefix.replace(/'/g, "\\'")}'`);
  } catch {
    // Visibility stores without STARTS_WITH: scan the type and filter here.
    return collect(byType);
  }
}

async function summarize(client: Client, workflowId: string): Promise<WorkflowHistorySummary | null> {
  const handle = client.workflow.getHandle(workflowId);
  let pending: PendingActivity[];
  try {
    // Describe first: it says "not found" as a typed error, and lists the activities in flight.
    pending = (await handle.describe()).raw.pendingActivities ?? [];
  } catch (err) {
    // Initiated but not started yet, or already removed by retention.
    if (isNotFound(err)) return null;
    throw err;
  }
  return summarizeWorkflowHistory(workflowId, await handle.fetchHistory(), pending);
}

export interface HistoryOptions {
  /** Only `<id>/gen-<generation>`. */
  generation?: number;
}

export async function fetchEvolutionHistory(client: Client, evolutionId: string, options: HistoryOptions = {}): Promise<EvolutionHistory> {
  const { description } = await findEvolution(client, evolutionId);
  if (options.generation !== undefined) {
    const id = `${evolutionId}/gen-${options.generation}`;
    const summary = await summarize(client, id);
    if (summary === null) throw new EngineRequestError(`evolution ${evolutionId} has no generation ${options.generation} (yet)`);
    return { evolutionId, workflows: [summary] };
  }
  // The evolution's own activities too: registration, the manual recipes measured for discoveries, the judgement.
  const ids = [evolutionId, ...(await childrenOfAllRuns(client, evolutionId, description.runId))];
  for (const id of await detachedRounds(client, evolutionId)) if (!ids.includes(id)) ids.push(id);
  const summaries = (await Promise.all(ids.map((id) => summarize(client, id)))).filter((s): s is WorkflowHistorySummary => s !== null);
  summaries.sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? '') || a.workflowId.localeCompare(b.workflowId));
  return { evolutionId, workflows: summaries };
}
