// Steering a running evolution through its validated updates (workflows/messages.ts): pause,
// resume, stop, setBudget and retry. A validator's rejection is the request's fault (exit 2).
import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { RetryArgs, SetBudgetArgs, type EvolutionStatus } from '../../schema/workflow-contracts.js';
import { pauseUpdate, resumeUpdate, retryUpdate, setBudgetUpdate, stopUpdate } from '../../workflows/messages.js';
import { EngineRequestError } from './errors.js';
import { findEvolution } from './evolutions.js';

export interface UpdateOptions {
  /** How long to wait for a control worker to run the update (default 60 s). */
  timeoutMs?: number;
}

/** A running evolution's handle; EngineRequestError when it has already closed. */
async function runningEvolution(client: Client, id: string): Promise<WorkflowHandle> {
  const { handle, description } = await findEvolution(client, id);
  if (description.status.name !== 'RUNNING') {
    throw new EngineRequestError(`evolution ${id} is ${description.status.name.toLowerCase()}; only a running evolution takes updates`);
  }
  return handle;
}

async function update<Ret>(client: Client, id: string, name: string, call: (handle: WorkflowHandle) => Promise<Ret>, options: UpdateOptions): Promise<Ret> {
  const handle = await runningEvolution(client, id);
  const timeoutMs = options.timeoutMs ?? 60_000;
  try {
    return await client.withDeadline(Date.now() + timeoutMs, () => call(handle));
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      // The validator (or handler) refused: say why, in one line.
      const reason = err.cause?.message ?? err.message;
      throw new EngineRequestError(`${name} rejected by evolution ${id}: ${reason.split('\n')[0]}`);
    }
    if (err instanceof Error && /deadline|timed? ?out|cancel/i.test(err.message)) {
      throw new Error(`no control worker ran the ${name} update of ${id} within ${Math.round(timeoutMs / 1000)} s (is \`evoquant worker control\` running?)`);
    }
    throw err;
  }
}

export function pauseEvolution(client: Client, id: string, options: UpdateOptions = {}): Promise<EvolutionStatus> {
  return update(client, id, 'pause', (h) => h.executeUpdate(pauseUpdate), options);
}

export function resumeEvolution(client: Client, id: string, options: UpdateOptions = {}): Promise<EvolutionStatus> {
  return update(client, id, 'resume', (h) => h.executeUpdate(resumeUpdate), options);
}

/** Graceful: the generation in flight finishes, then the evolution completes. */
export function stopEvolution(client: Client, id: string, options: UpdateOptions = {}): Promise<EvolutionStatus> {
  return update(client, id, 'stop', (h) => h.executeUpdate(stopUpdate), options);
}

/** Checked here first (same schema as the workflow's validator) so a bad budget never reaches Temporal. */
export function setEvolutionBudget(client: Client, id: string, budget: SetBudgetArgs, options: UpdateOptions = {}): Promise<EvolutionStatus> {
  const parsed = SetBudgetArgs.safeParse(budget);
  if (!parsed.success) throw new EngineRequestError(`budget: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return update(client, id, 'setBudget', (h) => h.executeUpdate(setBudgetUpdate, { args: [parsed.data] }), options);
}

/** Queues failed candidates (all, or the given ones) for an extra round inside the running evolution. */
export function queueRetry(client: Client, id: string, candidateIds: string[] | undefined, options: UpdateOptions = {}): Promise<{ queued: string[] }> {
  const args = RetryArgs.parse(candidateIds === undefined ? {} : { candidateIds });
  return update(client, id, 'retry', (h) => h.executeUpdate(retryUpdate, { args: [args] }), options);
}
