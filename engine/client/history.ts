// Turns one workflow's Temporal event history into rows, one per activity: what ran (type,
// candidate), on which worker, after how many attempts and why the earlier ones failed, and how
// long it queued and ran. Pure: no I/O, so tests can feed it any history (`fetchHistory()`,
// `historyFromJSON`) and assert on the rows.
//
// How Temporal records retries: an activity with a retry policy gets ONE ActivityTaskStarted event,
// written when its final attempt closes, carrying that attempt's number and the failure of the
// attempt before it (`lastFailure`). A worker killed mid-evaluation therefore shows as attempt 2
// whose lastFailure is the heartbeat timeout; earlier attempts leave no events of their own.
// Activities still in flight have no Started event yet; their attempt and last failure come from
// DescribeWorkflowExecution's pending activities, which callers may pass in.
import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';

/** What `WorkflowHandle.fetchHistory()` returns (temporal.api.history.v1.History). */
export type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
export type HistoryEvent = NonNullable<History['events']>[number];
type Failure = NonNullable<NonNullable<HistoryEvent['activityTaskFailedEventAttributes']>['failure']>;
type Payloads = NonNullable<NonNullable<HistoryEvent['activityTaskScheduledEventAttributes']>['input']>;
type Timestamp = NonNullable<HistoryEvent['eventTime']>;
export type PendingActivity = NonNullable<WorkflowExecutionDescription['raw']['pendingActivities']>[number];

export interface FailureInfo {
  message: string;
  /** application: raised by the activity; timeout: e.g. a dead worker's missed heartbeat. */
  kind: 'application' | 'timeout' | 'canceled' | 'terminated' | 'server' | 'other';
  /** The application failure type (GpuOutOfMemory, TransientFault, …) or the timeout type (heartbeat, start-to-close, …). */
  type: string | null;
  nonRetryable: boolean;
}

export type ActivityOutcome = 'completed' | 'failed' | 'timed-out' | 'canceled' | 'running' | 'scheduled';

export interface ActivityRow {
  /** The workflow whose history this is, e.g. `evo-abc123/gen-0`. */
  workflowId: string;
  /** Event id of ActivityTaskScheduled: unique within the workflow, and the rows' order. */
  scheduledEventId: number;
  activityId: string;
  activityType: string;
  /** From the input payload (`candidateId`, `candidate.id` or `artifact.candidateId`) where there is one. */
  candidateId: string | null;
  taskQueue: string | null;
  outcome: ActivityOutcome;
  /** ActivityTaskStarted.attempt: 1 when the first attempt settled it; null before any start is known. */
  attempt: number | null;
  /** Attempts that did not settle it (attempt − 1), 0 when unknown. */
  retries: number;
  /** Why the attempt before `attempt` failed (ActivityTaskStarted.lastFailure). */
  lastFailure: FailureInfo | null;
  /** Why the activity failed or timed out for good. */
  failure: FailureInfo | null;
  /** ActivityTaskStarted.identity: the worker of the final attempt. */
  workerIdentity: string | null;
  scheduledAt: string;
  /** Start of the final attempt. */
  startedAt: string | null;
  closedAt: string | null;
  /** scheduled → started (includes earlier attempts and retry back-off). */
  waitMs: number | null;
  /** started → closed (the final attempt alone). */
  runMs: number | null;
  /** scheduled → closed. */
  totalMs: number | null;
}

export type WorkflowRunStatus = 'running' | 'completed' | 'failed' | 'timed-out' | 'terminated' | 'canceled' | 'continued-as-new';

export interface WorkflowHistorySummary {
  workflowId: string;
  workflowType: string | null;
  status: WorkflowRunStatus;
  startedAt: string | null;
  closedAt: string | null;
  /** Why the run ended, when it failed or was terminated. */
  failure: FailureInfo | null;
  activities: ActivityRow[];
}

// ------------------------------------------------------------ small decoders

interface LongLike {
  toNumber(): number;
}

function toNumber(value: number | LongLike | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Number(value);
  return value.toNumber();
}

function toMs(ts: Timestamp | null | undefined): number | null {
  if (ts === null || ts === undefined) return null;
  return toNumber(ts.seconds as number | LongLike | null | undefined) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const span = (from: number | null, to: number | null): number | null => (from === null || to === null ? null : Math.max(0, to - from));

const TIMEOUT_TYPES: Record<number, string> = { 1: 'start-to-close', 2: 'schedule-to-start', 3: 'schedule-to-close', 4: 'heartbeat' };

/** The failure at the root of the chain is usually the informative one, but timeouts say it on top. */
export function failureInfo(failure: Failure | null | undefined): FailureInfo | null {
  if (failure === null || failure === undefined) return null;
  const app = failure.applicationFailureInfo;
  const timeout = failure.timeoutFailureInfo;
  if (app) return { message: failure.message ?? '', kind: 'application', type: app.type || null, nonRetryable: app.nonRetryable === true };
  if (timeout) {
    const type = TIMEOUT_TYPES[toNumber(timeout.timeoutType as number | null | undefined)] ?? null;
    return { message: failure.message || `${type ?? 'activity'} timeout`, kind: 'timeout', type, nonRetryable: false };
  }
  if (failure.canceledFailureInfo) return { message: failure.message ?? 'canceled', kind: 'canceled', type: null, nonRetryable: true };
  if (failure.terminatedFailureInfo) return { message: failure.message ?? 'terminated', kind: 'terminated', type: null, nonRetryable: true };
  if (failure.serverFailureInfo) return { message: failure.message ?? '', kind: 'server', type: null, nonRetryable: failure.serverFailureInfo.nonRetryable === true };
  // ActivityFailure and ChildWorkflowFailure wrap the real failure in `cause`.
  if (failure.cause) return failureInfo(failure.cause as Failure);
  return { message: failure.message ?? '', kind: 'other', type: null, nonRetryable: false };
}

function firstPayload(payloads: Payloads | null | undefined): unknown {
  const first = payloads?.payloads?.[0];
  if (first === undefined || first === null) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(first);
  } catch {
    // Encrypted or binary payloads: nothing to show, not an error.
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The candidate an activity input is about: quantize/evaluate name it, compile/record carry it. */
export function candidateOf(input: unknown): string | null {
  if (!isRecord(input)) return null;
  if (typeof input.candidateId === 'string') return input.candidateId;
  if (isRecord(input.candidate) && typeof input.candidate.id === 'string') return input.candidate.id;
  if (isRecord(input.artifact) && typeof input.artifact.candidateId === 'string') return input.artifact.candidateId;
  return null;
}

// ------------------------------------------------------------ the fold

interface Building extends ActivityRow {
  scheduledMs: number | null;
  startedMs: number | null;
  closedMs: number | null;
}

function close(row: Building, outcome: ActivityOutcome, event: HistoryEvent, failure: FailureInfo | null, identity?: string | null): void {
  row.outcome = outcome;
  row.failure = failure;
  row.closedMs = toMs(event.eventTime);
  if (identity) row.workerIdentity ??= identity;
}

/**
 * Rows of every activity scheduled in `history`, in scheduling order. `pending` (from
 * `describe().raw.pendingActivities`) fills in attempt, last failure and worker of those in flight.
 */
export function activityRows(workflowId: string, history: History, pending: readonly PendingActivity[] = []): ActivityRow[] {
  const rows = new Map<number, Building>();
  const byStartedId = new Map<number, Building>();
  for (const event of history.events ?? []) {
    const id = toNumber(event.eventId as number | LongLike | null | undefined);
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const ms = toMs(event.eventTime);
      rows.set(id, {
        workflowId,
        scheduledEventId: id,
        activityId: scheduled.activityId ?? String(id),
        activityType: scheduled.activityType?.name ?? '(unknown)',
        candidateId: candidateOf(firstPayload(scheduled.input)),
        taskQueue: scheduled.taskQueue?.name ?? null,
        outcome: 'scheduled',
        attempt: null,
        retries: 0,
        lastFailure: null,
        failure: null,
        workerIdentity: null,
        scheduledAt: iso(ms) ?? '',
        startedAt: null,
        closedAt: null,
        waitMs: null,
        runMs: null,
        totalMs: null,
        scheduledMs: ms,
        startedMs: null,
        closedMs: null,
      });
      continue;
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const row = rows.get(toNumber(started.scheduledEventId as number | LongLike | null | undefined));
      if (!row) continue;
      row.outcome = 'running';
      row.attempt = started.attempt ?? 1;
      row.lastFailure = failureInfo(started.lastFailure);
      row.workerIdentity = started.identity || null;
      row.startedMs = toMs(event.eventTime);
      byStartedId.set(id, row);
      continue;
    }
    const completed = event.activityTaskCompletedEventAttributes;
    const failed = event.activityTaskFailedEventAttributes;
    const timedOut = event.activityTaskTimedOutEventAttributes;
    const canceled = event.activityTaskCanceledEventAttributes;
    const closing = completed ?? failed ?? timedOut ?? canceled;
    if (!closing) continue;
    const row = rows.get(toNumber(closing.scheduledEventId as number | LongLike | null | undefined));
    if (!row) continue;
    if (completed) close(row, 'completed', event, null, completed.identity);
    else if (failed) close(row, 'failed', event, failureInfo(failed.failure), failed.identity);
    else if (timedOut) close(row, 'timed-out', event, failureInfo(timedOut.failure));
    else if (canceled) close(row, 'canceled', event, { message: 'canceled', kind: 'canceled', type: null, nonRetryable: true }, canceled.identity);
  }

  const pendingById = new Map(pending.map((p) => [p.activityId ?? '', p]));
  return [...rows.values()]
    .sort((a, b) => a.scheduledEventId - b.scheduledEventId)
    .map((row) => {
      const p = row.closedMs === null ? pendingById.get(row.activityId) : undefined;
      if (p) {
        // State 2 is STARTED (a worker holds it now); 1 is SCHEDULED (queued, or backing off before a retry).
        row.outcome = toNumber(p.state as number | null | undefined) === 1 ? 'scheduled' : 'running';
        row.attempt = p.attempt ?? row.attempt;
        row.lastFailure = failureInfo(p.lastFailure) ?? row.lastFailure;
        row.workerIdentity = p.lastWorkerIdentity || row.workerIdentity;
        row.startedMs = toMs(p.lastStartedTime) ?? row.startedMs;
      }
      const { scheduledMs, startedMs, closedMs, ...rest } = row;
      return {
        ...rest,
        retries: rest.attempt === null ? 0 : rest.attempt - 1,
        startedAt: iso(startedMs),
        closedAt: iso(closedMs),
        waitMs: span(scheduledMs, startedMs),
        runMs: span(startedMs, closedMs),
        totalMs: span(scheduledMs, closedMs),
      };
    });
}

/** The run's own status and times, plus its activity rows. */
export function summarizeWorkflowHistory(workflowId: string, history: History, pending: readonly PendingActivity[] = []): WorkflowHistorySummary {
  const events = history.events ?? [];
  const first = events[0];
  let status: WorkflowRunStatus = 'running';
  let closedAt: string | null = null;
  let failure: FailureInfo | null = null;
  for (const event of events) {
    const at = iso(toMs(event.eventTime));
    if (event.workflowExecutionCompletedEventAttributes) [status, closedAt] = ['completed', at];
    else if (event.workflowExecutionFailedEventAttributes) {
      [status, closedAt] = ['failed', at];
      failure = failureInfo(event.workflowExecutionFailedEventAttributes.failure);
    } else if (event.workflowExecutionTimedOutEventAttributes) [status, closedAt] = ['timed-out', at];
    else if (event.workflowExecutionTerminatedEventAttributes) {
      [status, closedAt] = ['terminated', at];
      failure = { message: event.workflowExecutionTerminatedEventAttributes.reason || 'terminated', kind: 'terminated', type: null, nonRetryable: true };
    } else if (event.workflowExecutionCanceledEventAttributes) [status, closedAt] = ['canceled', at];
    else if (event.workflowExecutionContinuedAsNewEventAttributes) [status, closedAt] = ['continued-as-new', at];
  }
  return {
    workflowId,
    workflowType: first?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? null,
    status,
    startedAt: first ? iso(toMs(first.eventTime)) : null,
    closedAt,
    failure,
    activities: activityRows(workflowId, history, pending),
  };
}
