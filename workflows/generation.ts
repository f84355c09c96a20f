// One generation: scout → architect → physicist → compile → quantize → evaluate → record → critic →
// curator. The agents and compile run on the control queue and reject what cannot run on the target
// before any GPU time is spent; quantize and evaluate run on the evaluation pool's queue, in
// parallel up to its capacity.
import { ActivityFailure, ApplicationFailure, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { createGpuActivities } from '../activities/gpu.js';
import { FAILURE_TYPES, GPU_FINAL_FAILURES, nonRetryable } from '../schema/failures.js';
import {
  gpuTaskQueue,
  type CandidateSummary,
  type CompileVerdict,
  type GenerationInput,
  type GenerationResult,
  type ProposedCandidate,
  type QuantizedArtifact,
} from '../schema/workflow-contracts.js';
import { agents, architectAgent } from './agent-activities.js';
import { control } from './control-activities.js';
import { runLimited } from './limiter.js';

export type GpuActivities = ReturnType<typeof createGpuActivities>;

function gpuActivities(input: GenerationInput): GpuActivities {
  return gpuActivitiesFor(input.config);
}

/** The evaluation pool's activities for an evolution (its own GPU class's queue). */
export function gpuActivitiesFor(config: GenerationInput['config']): GpuActivities {
  const input = { config };
  const pool = input.config.pool ?? input.config.target.hardware;
  const options: ActivityOptions = {
    taskQueue: gpuTaskQueue(pool),
    // Waiting for a worker of the right class is not a failure: tasks stay queued until one comes.
    scheduleToStartTimeout: undefined,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: `${input.config.evaluation.heartbeatSeconds} seconds`,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: input.config.evaluation.maxAttempts,
      nonRetryableErrorTypes: nonRetryable(...GPU_FINAL_FAILURES),
    },
  };
  return proxyActivities<GpuActivities>(options);
}

/**
 * The checkpoint a config measures on, as the field quantize and evaluate requests carry. Absent
 * when the config names none, so a proxy evolution's requests (and its replayed history) stay as they were.
 */
export function checkpointOf(config: GenerationInput['config']): { model?: NonNullable<GenerationInput['config']['evaluation']['model']> } {
  return config.evaluation.model === undefined ? {} : { model: config.evaluation.model };
}

function failureOf(err: unknown): { type: string; message: string } {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    return { type: err.cause.type ?? 'ApplicationFailure', message: err.cause.message };
  }
  if (err instanceof ActivityFailure) return { type: err.cause?.name ?? 'ActivityFailure', message: err.cause?.message ?? err.message };
  return { type: 'Error', message: err instanceof Error ? err.message : String(err) };
}

async function measure(
  input: GenerationInput,
  gpu: GpuActivities,
  candidate: ProposedCandidate,
  verdict: CompileVerdict,
): Promise<CandidateSummary> {
  const { evolutionId, config } = input;
  const quantizeRequest = { evolutionId, candidateId: candidate.id, recipe: candidate.recipe, proxy: config.proxy, calibrationTokens: config.evaluation.calibrationTokens, ...checkpointOf(config) };
  try {
    let artifact: QuantizedArtifact = await gpu.quantize(quantizeRequest);
    let measurement;
    try {
      measurement = await gpu.evaluate({ candidateId: candidate.id, artifact, proxy: config.proxy, tokens: config.evaluation.tokens, ...checkpointOf(config) });
    } catch (err) {
      // The artifact lives on the worker that made it; if another worker cannot see it, remake it.
      if (failureOf(err).type !== FAILURE_TYPES.artifactMissing) throw err;
      artifact = await gpu.quantize(quantizeRequest);
      measurement = await gpu.evaluate({ candidateId: candidate.id, artifact, proxy: config.proxy, tokens: config.evaluation.tokens, ...checkpointOf(config) });
    }
    return await control.record({ kind: 'evaluated', evolutionId, candidate, verdict, artifact, measurement });
  } catch (err) {
    const failure = failureOf(err);
    return control.record({
      kind: 'failed',
      evolutionId,
      candidate,
      verdict,
      failureType: failure.type,
      message: failure.message,
      outOfMemory: failure.type === FAILURE_TYPES.outOfMemory,
    });
  }
}

/** A candidate the physicist accepted, as the record and compile activities take it. */
const proposed = (c: ProposedCandidate): ProposedCandidate => ({ id: c.id, generation: c.generation, recipe: c.recipe, parents: c.parents, technique: c.technique });

/**
 * The agents' chain: the scout's chain of thought, the architect's children, the physicist's
 * verdicts (refused children recorded as rejected with their reasons). Returns what goes to compile.
 */
async function reasonedCandidates(input: GenerationInput, gpu: GpuActivities, summaries: CandidateSummary[]): Promise<ProposedCandidate[]> {
  const { evolutionId, generation, config } = input;
  const chain = await agents.scout({ evolutionId, generation, config });
  const { proposals } = await architectAgent.architect({ evolutionId, generation, config, chain });
  let judged = await agents.physicist({ evolutionId, generation, config, proposals, profile: null });
  if (judged.needsProfile) {
    // A child too large to fit: the allocator the physicist repairs with prices bits by the proxy's
    // sensitivity profile, measured (once, then cached) where the proxy lives, on the evaluation pool.
    const profile = await gpu.sensitivityProfile({ proxy: config.proxy, calibrationTokens: config.evaluation.calibrationTokens });
    judged = await agents.physicist({ evolutionId, generation, config, proposals, profile });
  }
  for (const r of judged.refused) summaries.push(await control.record({ kind: 'rejected', evolutionId, candidate: r.candidate, verdict: r.verdict }));
  return judged.accepted.map(proposed);
}

export async function generationWorkflow(input: GenerationInput): Promise<GenerationResult> {
  const gpu = gpuActivities(input);
  const refused: CandidateSummary[] = [];
  const candidates = input.retryCandidates
    ? await control.loadCandidates({ evolutionId: input.evolutionId, ids: input.retryCandidates })
    : await reasonedCandidates(input, gpu, refused);
  const verdicts = await Promise.all(candidates.map((candidate) => control.compileCandidate({ candidate, target: input.config.target })));

  const summaries: CandidateSummary[] = new Array(candidates.length);
  const feasible: number[] = [];
  await Promise.all(
    candidates.map(async (candidate, i) => {
      if (verdicts[i].violations.length > 0) {
        summaries[i] = await control.record({ kind: 'rejected', evolutionId: input.evolutionId, candidate, verdict: verdicts[i] });
      } else {
        feasible.push(i);
      }
    }),
  );
  feasible.sort((a, b) => a - b);
  await runLimited(feasible, input.config.poolCapacity ?? input.config.populationSize, async (i) => {
    summaries[i] = await measure(input, gpu, candidates[i], verdicts[i]);
  });
  const all = [...refused, ...summaries];
  const { evolutionId, generation, config } = input;
  await agents.critic({ evolutionId, generation, config, candidateIds: all.map((c) => c.id) });
  if (!input.retryCandidates) {
    await agents.curator({ evolutionId, generation, config });
    await control.closeGeneration({ evolutionId, generation });
  }
  return { generation, candidates: all };
}
