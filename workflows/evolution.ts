// One long-running workflow per evolution: a child workflow per generation (its own history, id
// `<evolution-id>/gen-<n>`), updates to pause / resume / stop / re-budget / retry, a status query,
// and continue-as-new carrying the state when the history grows long.
import { ActivityFailure, allHandlersFinished, condition, continueAsNew, executeChild, setHandler, workflowInfo } from '@temporalio/workflow';
import { RetryArgs, SetBudgetArgs, type CandidateSummary, type EvolutionInput, type EvolutionState, type EvolutionStatus } from '../schema/workflow-contracts.js';
import { bestCandidate, paretoFrontier, type Measurement } from '../evolution/archive/archive.js';
import { notServableCounts } from '../evolution/archive/not-servable.js';
import { agents } from './agent-activities.js';
import { control } from './control-activities.js';
import { runLimited } from './limiter.js';
import { checkpointOf, generationWorkflow, gpuActivitiesFor } from './generation.js';
import { pauseUpdate, resumeUpdate, retryUpdate, setBudgetUpdate, statusQuery, stopUpdate } from './messages.js';


const STATUSES: CandidateSummary['status'][] = ['proposed', 'rejected', 'evaluated', 'failed', 'infeasible'];

function initialState(input: EvolutionInput): EvolutionState {
  return {
    nextGeneration: 0,
    generations: input.config.generations,
    maxCandidates: input.config.maxCandidates ?? null,
    paused: false,
    stopRequested: false,
    candidates: [],
    retryQueue: [],
    retryRounds: 0,
    runs: 0,
    discoveries: [],
  };
}

/** Latest summary per candidate wins (a retried candidate replaces its failed record). */
function merge(state: EvolutionState, fresh: readonly CandidateSummary[]): void {
  for (const c of fresh) {
    const i = state.candidates.findIndex((x) => x.id === c.id);
    if (i >= 0) state.candidates[i] = c;
    else state.candidates.push(c);
  }
}

/** Only evaluated candidates with both figures are measured. */
function measured(c: CandidateSummary): Measurement | null {
  return c.status === 'evaluated' && c.fits !== null && c.kl !== null && c.gbPerGpu !== null ? { id: c.id, fits: c.fits, gbPerGpu: c.gbPerGpu, kl: c.kl } : null;
}

export function statusOf(evolutionId: string, state: EvolutionState, done: boolean): EvolutionStatus {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<CandidateSummary['status'], number>;
  for (const c of state.candidates) counts[c.status]++;
  const notServable = notServableCounts(state.candidates);
  const best = bestCandidate(state.candidates, measured);
  const frontier = paretoFrontier(state.candidates, measured);
  return {
    evolutionId,
    phase: done ? 'completed' : state.stopRequested ? 'stopping' : state.paused ? 'paused' : 'running',
    generation: state.nextGeneration,
    generations: state.generations,
    counts,
    notServable,
    best,
    frontier,
    runs: state.runs,
    discoveries: state.discoveries ?? [],
  };
}

function budgetLeft(state: EvolutionState): boolean {
  const measured = state.candidates.filter((c) => c.status !== 'rejected').length;
  return state.nextGeneration < state.generations && (state.maxCandidates === null || measured < state.maxCandidates);
}

/**
 * Measures the manual recipes the candidates must beat (on the evaluation pool; one that fails to
 * measure is left out, never retried forever) and records the discoveries. Returns their names.
 */
async function discoverAfterwards(evolutionId: string, config: EvolutionInput['config']): Promise<string[]> {
  const gpu = gpuActivitiesFor(config);
  const todo = await agents.referencesToMeasure({ evolutionId, config });
  await runLimited(todo.map((_, i) => i), config.poolCapacity ?? config.populationSize, async (i) => {
    const reference = todo[i];
    const candidateId = `reference-${reference.recipeHash.slice(0, 24)}`;
    try {
      const artifact = await gpu.quantize({ evolutionId, candidateId, recipe: reference.recipe, proxy: config.proxy, calibrationTokens: config.evaluation.calibrationTokens, ...checkpointOf(config) });
      const measurement = await gpu.evaluate({ candidateId, artifact, proxy: config.proxy, tokens: config.evaluation.tokens, ...checkpointOf(config) });
      await agents.recordReferenceResult({ evolutionId, config, reference, artifact, measurement });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
    }
  });
  return (await agents.discover({ evolutionId, config })).map((card) => card.name);
}

export async function evolutionWorkflow(input: EvolutionInput): Promise<EvolutionStatus> {
  const { evolutionId, config } = input;
  const state = input.state ?? initialState(input);
  let done = false;
  // Set before the last activity: a retry accepted after it would never run.
  let finishing = false;

  setHandler(statusQuery, () => statusOf(evolutionId, state, done));
  setHandler(pauseUpdate, () => {
    state.paused = true;
    return statusOf(evolutionId, state, done);
  });
  setHandler(resumeUpdate, () => {
    state.paused = false;
    return statusOf(evolutionId, state, done);
  });
  setHandler(stopUpdate, () => {
    state.stopRequested = true;
    return statusOf(evolutionId, state, done);
  });
  setHandler(
    setBudgetUpdate,
    (args) => {
      if (args.generations !== undefined) state.generations = args.generations;
      if (args.maxCandidates !== undefined) state.maxCandidates = args.maxCandidates;
      return statusOf(evolutionId, state, done);
    },
    {
      validator: (args) => {
        SetBudgetArgs.parse(args);
        if (args.generations !== undefined && args.generations < state.nextGeneration) {
          throw new Error(`generations ${args.generations} is below the ${state.nextGeneration} already run`);
        }
      },
    },
  );
  setHandler(
    retryUpdate,
    (args) => {
      const failed = state.candidates.filter((c) => c.status === 'failed' || c.status === 'infeasible').map((c) => c.id);
      const wanted = args.candidateIds ?? failed;
      const queued = wanted.filter((id) => !state.retryQueue.includes(id));
      state.retryQueue.push(...queued);
      return { queued };
    },
    {
      validator: (args) => {
        RetryArgs.parse(args);
        for (const id of args.candidateIds ?? []) {
          const c = state.candidates.find((x) => x.id === id);
          if (!c) throw new Error(`candidate ${id} is not part of evolution ${evolutionId}`);
          if (c.status !== 'failed' && c.status !== 'infeasible') throw new Error(`candidate ${id} is ${c.status}, not failed`);
        }
        if (done || finishing) throw new Error(`evolution ${evolutionId} has completed`);
      },
    },
  );

  if (state.runs === 0 && state.nextGeneration === 0) await control.registerEvolution({ evolutionId, config });

  for (;;) {
    await condition(() => state.stopRequested || !state.paused);
    if (state.retryQueue.length > 0) {
      const ids = state.retryQueue.splice(0, state.retryQueue.length);
      const round = state.retryRounds++;
      const result = await executeChild(generationWorkflow, {
        workflowId: `${evolutionId}/retry-${round}`,
        args: [{ evolutionId, generation: state.nextGeneration, config, retryCandidates: ids }],
      });
      merge(state, result.candidates);
      continue;
    }
    if (state.stopRequested || !budgetLeft(state)) break;
    const generation = state.nextGeneration;
    const result = await executeChild(generationWorkflow, {
      workflowId: `${evolutionId}/gen-${generation}`,
      args: [{ evolutionId, generation, config }],
    });
    merge(state, result.candidates);
    state.nextGeneration = generation + 1;
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      state.runs++;
      await continueAsNew<typeof evolutionWorkflow>({ evolutionId, config, state });
    }
  }

  finishing = true;
  if (config.agents.discoveries && !state.stopRequested) state.discoveries = await discoverAfterwards(evolutionId, config);
  await control.finishEvolution({ evolutionId, status: state.stopRequested ? 'cancelled' : 'completed' });
  done = true;
  await condition(allHandlersFinished);
  return statusOf(evolutionId, state, done);
}
