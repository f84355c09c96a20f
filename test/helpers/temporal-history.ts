// Temporal history readers, independent of engine/client/history.ts so tests check it rather than echo it.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
// CommonJS: the namespace is on the default export under Node's ESM loader.
import proto from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { bundlePath } from './engine-env.js';
import { waitFor } from './wait.js';

/** Where a pending activity is: queued (no worker holds it) or started on a worker. */
export const PendingState = proto.temporal.api.enums.v1.PendingActivityState;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
type Failure = proto.temporal.api.failure.v1.IFailure;

export type PendingActivity = proto.temporal.api.workflow.v1.IPendingActivityInfo;

/** Activities the workflow `workflowId` has scheduled and not yet closed. */
export async function pendingActivities(client: Client, workflowId: string): Promise<PendingActivity[]> {
  const d = await client.workflow.getHandle(workflowId).describe();
  return d.raw.pendingActivities ?? [];
}

/** The decoded heartbeat details of a pending activity (undefined before its first beat). */
export function heartbeatDetails(a: PendingActivity): unknown {
  const payload = a.heartbeatDetails?.payloads?.[0];
  return payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
}

/** Waits until `activityType` runs on a worker in `workflowId` (and its heartbeat details satisfy `details`). */
export async function waitForRunningActivity(
  client: Client,
  workflowId: string,
  activityType: string,
  { details, timeoutMs = 90_000, intervalMs = 100 }: { details?: (d: unknown) => boolean; timeoutMs?: number; intervalMs?: number } = {},
): Promise<PendingActivity> {
  return waitFor(
    `${activityType} to run in ${workflowId}`,
    async () =>
      (await pendingActivities(client, workflowId)).find(
        (a) =>
          a.activityType?.name === activityType &&
          a.state === PendingState.PENDING_ACTIVITY_STATE_STARTED &&
          (details === undefined || details(heartbeatDetails(a))),
      ),
    { timeoutMs, intervalMs },
  );
}

export async function fetchEvents(client: Client, workflowId: string, runId?: string): Promise<HistoryEvent[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return history.events ?? [];
}

/** One scheduled activity as the history tells it (attempt and identity of its last start). */
export interface ActivityRecord {
  /** Event id of ActivityTaskScheduled, the key its later events refer to. */
  scheduledEventId: string;
  activityId: string;
  activityType: string;
  taskQueue: string;
  attempt: number | null;
  identity: string | null;
  /** Why the previous attempt failed (retried attempts only). */
  lastFailure: { message: string; type: string | null } | null;
  outcome: 'completed' | 'failed' | 'timed-out' | 'cancelled' | 'open';
  failure: { message: string; type: string | null } | null;
}

function failureOf(f: Failure | null | undefined): { message: string; type: string | null } | null {
  if (!f) return null;
  // Timeouts and activity failures wrap the application failure; report the innermost typed one.
  let inner: Failure = f;
  while (inner.cause && !inner.applicationFailureInfo) inner = inner.cause;
  return { message: inner.message ?? f.message ?? '', type: inner.applicationFailureInfo?.type ?? (f.timeoutFailureInfo ? 'Timeout' : null) };
}

/** Activities of a history, read straight from its events (independent of engine/history.ts). */
export function activityRecords(events: HistoryEvent[]): ActivityRecord[] {
  const byScheduled = new Map<string, ActivityRecord>();
  const key = (id: unknown): string => String(id);
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      byScheduled.set(key(e.eventId), {
        scheduledEventId: key(e.eventId),
        activityId: s.activityId ?? '',
        activityType: s.activityType?.name ?? '',
        taskQueue: s.taskQueue?.name ?? '',
        attempt: null,
        identity: null,
        lastFailure: null,
        outcome: 'open',
        failure: null,
      });
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const r = byScheduled.get(key(started.scheduledEventId));
      if (r) Object.assign(r, { attempt: started.attempt ?? 1, identity: started.identity ?? null, lastFailure: failureOf(started.lastFailure) });
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) {
      const r = byScheduled.get(key(completed.scheduledEventId));
      if (r) r.outcome = 'completed';
    }
    const failed = e.activityTaskFailedEventAttributes;
    if (failed) {
      const r = byScheduled.get(key(failed.scheduledEventId));
      if (r) Object.assign(r, { outcome: 'failed', failure: failureOf(failed.failure) });
    }
    const timedOut = e.activityTaskTimedOutEventAttributes;
    if (timedOut) {
      const r = byScheduled.get(key(timedOut.scheduledEventId));
      if (r) Object.assign(r, { outcome: 'timed-out', failure: failureOf(timedOut.failure) });
    }
    const cancelled = e.activityTaskCanceledEventAttributes;
    if (cancelled) {
      const r = byScheduled.get(key(cancelled.scheduledEventId));
      if (r) r.outcome = 'cancelled';
    }
  }
  return [...byScheduled.values()];
}

export interface RecordedHistory {
  workflowId: string;
  runId: string;
  history: proto.temporal.api.history.v1.IHistory;
}

/**
 * Every run of an evolution (following continue-as-new back to the first) and of each child
 * workflow those runs started: the complete record of one evolution, e.g. for replay tests.
 */
export async function evolutionHistories(client: Client, evolution: string): Promise<RecordedHistory[]> {
  const runs: RecordedHistory[] = [];
  let runId: string | undefined = (await client.workflow.getHandle(evolution).describe()).runId;
  while (runId !== undefined) {
    const history = await client.workflow.getHandle(evolution, runId).fetchHistory();
    runs.unshift({ workflowId: evolution, runId, history });
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  const children: RecordedHistory[] = [];
  for (const run of runs) {
    for (const e of run.history.events ?? []) {
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId && child.runId) {
        children.push({ workflowId: child.workflowId, runId: child.runId, history: await client.workflow.getHandle(child.workflowId, child.runId).fetchHistory() });
      }
    }
  }
  return [...runs, ...children];
}

let quietRuntime = false;

/**
 * Replays `histories` against the current workflow bundle (or the workflows of `workflowsPath`);
 * returns one line per history that failed (nondeterminism or any other replay error), so a test
 * can `t.deepEqual(failures, [])`.
 */
export async function replayFailures(histories: readonly RecordedHistory[], workflowsPath?: string): Promise<string[]> {
  if (!quietRuntime) {
    // The replay worker's state changes (and the nondeterminism a drift test provokes on purpose)
    // are noise in test output: failures come back in the returned list.
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
    quietRuntime = true;
  }
  const options = workflowsPath === undefined ? { workflowBundle: { codePath: await bundlePath() } } : { workflowsPath };
  const failures: string[] = [];
  for await (const r of Worker.runReplayHistories(options, histories)) {
    if (r.error) failures.push(`${r.workflowId} (${r.runId}): ${r.error.name}: ${r.error.message}`);
  }
  return failures;
}
