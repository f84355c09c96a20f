// GPU-queue activities: quantize and evaluate one candidate. They heartbeat their stage and
// progress, resume an interrupted evaluation from its last heartbeat, and raise typed failures:
// out-of-memory and invalid recipes are final, anything else is retried by Temporal.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { chaosStrikes, type ChaosPolicy } from '../science/executor/chaos.js';
import { withKeepAlive } from './keep-alive.js';
import type { Executor, Progress } from '../science/executor/executor.js';
import type { EvalProgress } from '../science/evaluation/evaluate.js';
import { EXECUTOR_FINAL_FAILURES, FAILURE_TYPES } from '../schema/failures.js';
import type { SensitivityProfile } from '../schema/sensitivity.js';
import type { EvaluateRequest, EvaluationMeasurement, QuantizedArtifact, QuantizeRequest } from '../schema/workflow-contracts.js';

export interface GpuDeps {
  executor: Executor;
  identity: string;
  chaos: ChaosPolicy | null;
}

interface EvaluateHeartbeat {
  stage: 'evaluate';
  progress: EvalProgress;
}

function heartbeater(beat: (details: unknown) => void): (p: Progress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    // The SDK throttles too; this keeps the detail stream small.
    if (now - last < 250 && p.done !== p.total) return;
    last = now;
    beat(p);
  };
}

const FINAL: ReadonlySet<string> = new Set(EXECUTOR_FINAL_FAILURES);
const KNOWN: ReadonlySet<string> = new Set(Object.values(FAILURE_TYPES));

/**
 * The failure Temporal sees for an executor error: errors that are deterministic given the
 * candidate become non-retryable failures of their own (declared) name; anything else is retried.
 */
export function activityFailureOf(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof Error && FINAL.has(err.name)) return ApplicationFailure.nonRetryable(err.message, err.name);
  // The SDK names a plain error's failure after its class; a declared failure name (ExecutorCrash,
  // CudaError, …) must reach history as itself, still retryable.
  if (err instanceof Error && KNOWN.has(err.name)) return ApplicationFailure.retryable(err.message, err.name);
  return err;
}

function typed(err: unknown): never {
  throw activityFailureOf(err);
}

function injectChaos(chaos: ChaosPolicy | null): void {
  const info = Context.current().info;
  // Never on the last allowed attempt, so chaos delays a result but never loses it.
  const last = info.retryPolicy?.maximumAttempts ?? 0;
  if ((last === 0 || info.attempt < last) && chaosStrikes(chaos, `${info.workflowExecution?.workflowId ?? ""}/${info.activityId}`, info.attempt)) {
    throw ApplicationFailure.retryable(`chaos: injected transient fault (attempt ${info.attempt})`, FAILURE_TYPES.transient);
  }
}

export function createGpuActivities({ executor, identity, chaos }: GpuDeps) {
  return {
    async quantize(req: QuantizeRequest): Promise<QuantizedArtifact> {
      injectChaos(chaos);
      try {
        const signal = Context.current().cancellationSignal;
        const out = await withKeepAlive((beat) => executor.quantize(req, heartbeater(beat), signal));
        // Only a measured peak enters the artifact, so a proxy's artifact (and its history) is unchanged.
        return {
          candidateId: req.candidateId,
          path: out.path,
          proxyBytes: out.proxyBytes,
          workerIdentity: identity,
          ...(out.peakMemoryBytes === undefined ? {} : { peakMemoryBytes: out.peakMemoryBytes }),
        };
      } catch (err) {
        typed(err);
      }
    },

    /** The proxy's sensitivity profile, for the physicist's allocator (cached on the worker's disk). */
    async sensitivityProfile(req: { proxy: string; calibrationTokens: number }): Promise<SensitivityProfile> {
      try {
        return await withKeepAlive((beat) => executor.sensitivityProfile(req.proxy, req.calibrationTokens, heartbeater(beat)));
      } catch (err) {
        typed(err);
      }
    },

    async evaluate(req: EvaluateRequest): Promise<EvaluationMeasurement> {
      injectChaos(chaos);
      const ctx = Context.current();
      const previous = ctx.info.heartbeatDetails as EvaluateHeartbeat | Progress | undefined;
      const resume = previous && previous.stage === 'evaluate' && 'progress' in previous ? previous.progress : undefined;
      try {
        const { measuredMemory, longContext, ...m } = await withKeepAlive((beat) => {
          // A checkpoint's evaluation (torch) has no resumable windows: it beats its stages instead.
          // The proxy's beats only its windows, so a stage never overwrites the resume point.
          const stages = req.model === undefined ? () => undefined : heartbeater(beat);
          return executor.evaluate(req, resume, (progress) => beat({ stage: 'evaluate', progress } satisfies EvaluateHeartbeat), stages, ctx.cancellationSignal);
        });
        return {
          candidateId: req.candidateId,
          ...m,
          attempt: ctx.info.attempt,
          workerIdentity: identity,
          resumedFromWindow: resume?.nextWindow ?? 0,
          ...(measuredMemory === undefined ? {} : { measuredMemory }),
          ...(longContext === undefined ? {} : { longContext }),
        };
      } catch (err) {
        typed(err);
      }
    },
  };
}
