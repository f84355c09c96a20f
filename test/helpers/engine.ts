// Shared pieces of the engine's durability tests: workers as child processes (so a test can SIGKILL
// them), evolution configs sized for 2 CPU cores, Temporal history readers and database checks.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
// CommonJS: the namespace is on the default export under Node's ESM loader.
import proto from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { sql, type Kysely } from 'kysely';
import { CONTROL_TASK_QUEUE, type EvolutionStatus } from '../../schema/workflow-contracts.js';
import { EvolutionConfig, type EvolutionConfigInput } from '../../schema/evolution-config.js';
import type { Database } from '../../schema/db.js';
import { repoRoot } from '../../engine/stack/paths.js';
import { isAlive, waitForExit } from '../../engine/stack/processes.js';
import { workflowBundlePath } from '../../workers/workflow-bundle.js';
import type { evolutionWorkflow } from '../../workflows/evolution.js';
import { statusQuery } from '../../workflows/messages.js';
import type { TestStack } from './stack.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

const WORKER_SCRIPT = path.join(repoRoot, 'test', 'fixtures', 'worker.ts');
const FAKE_NVIDIA_SMI = path.join(repoRoot, 'test', 'fixtures', 'nvidia-smi.sh');
/** Printed by test/fixtures/worker.ts once it polls (kept in sync by hand: importing it would start a worker). */
const READY_LINE = 'evoquant-test-worker ready';

/** The trained proxy (resolved against the repository root by the workers). */
export const TEST_PROXY = 'artifacts/proxy';

/** Where a pending activity is: queued (no worker holds it) or started on a worker. */
export const PendingState = proto.temporal.api.enums.v1.PendingActivityState;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
type Failure = proto.temporal.api.failure.v1.IFailure;

// ---------------------------------------------------------------- worker processes

/**
 * EVOQUANT_HOME of the worker processes: one directory for every engine test file, so the workflow
 * bundle (cached there by content hash) is built once rather than per file or per worker.
 */
const ENGINE_HOME = path.join(os.tmpdir(), 'evoquant-engine-tests');
let homeReady: Promise<string> | undefined;

/** The shared home, with the current workflow bundle built into it. */
export function engineHome(): Promise<string> {
  homeReady ??= (async () => {
    mkdirSync(ENGINE_HOME, { recursive: true });
    // This test process (one per file) resolves the bundle cache through EVOQUANT_HOME as well.
    process.env.EVOQUANT_HOME = ENGINE_HOME;
    await workflowBundlePath();
    return ENGINE_HOME;
  })();
  return homeReady;
}

/** The current workflow bundle, for replaying recorded histories. */
export async function bundlePath(): Promise<string> {
  await engineHome();
  return workflowBundlePath();
}

/** Where the worker processes of one test file connect. */
export interface EngineEnv {
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
  /** EVOQUANT_HOME of the workers: holds the cached workflow bundle. */
  home: string;
}

/** What a test needs: where workers connect, its fresh (migrated) database and a Temporal client. */
export async function engineContext(stack: () => TestStack): Promise<{ env: EngineEnv; db: Kysely<Database>; client: Client }> {
  const { url, db } = await stack().postgres.freshDatabase();
  const { address, namespace } = stack().temporal;
  return {
    env: { temporalAddress: address, namespace, databaseUrl: url, home: await engineHome() },
    db,
    client: await stack().temporal.client(),
  };
}

export interface GpuWorkerArgs {
  /** Omit to let the worker probe nvidia-smi. */
  deviceClass?: string;
  deviceMemoryBytes?: number;
  artifactsDir?: string;
  chaos?: { transientRate: number; seed: number };
  identity?: string;
  /** Extra environment, e.g. a PATH with a fake nvidia-smi. */
  env?: NodeJS.ProcessEnv;
}

export interface WorkerReady {
  kind: 'control' | 'gpu';
  taskQueue: string;
  identity: string;
  pid: number;
  deviceClass?: string;
  slots?: number;
}

export class WorkerProcess {
  private log = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    child.stdout?.on('data', (b: Buffer) => (this.log += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (this.log += b.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal === null ? code : null)));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get output(): string {
    return this.log;
  }

  alive(): boolean {
    return isAlive(this.pid);
  }

  /** SIGKILL: no shutdown hooks, no goodbye to Temporal, in-flight tasks are simply lost. */
  async kill(): Promise<void> {
    if (!this.alive()) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Graceful shutdown (SIGTERM), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive()) return;
    this.child.kill('SIGTERM');
    if (!(await waitForExit(this.pid, graceMs))) await this.kill();
    await this.exited;
  }
}

function workerArgs(args: GpuWorkerArgs): string[] {
  const out: string[] = [];
  if (args.deviceClass !== undefined) out.push('--device-class', args.deviceClass);
  if (args.deviceMemoryBytes !== undefined) out.push('--device-memory-bytes', String(args.deviceMemoryBytes));
  if (args.artifactsDir !== undefined) out.push('--artifacts-dir', args.artifactsDir);
  if (args.chaos !== undefined) out.push('--chaos-rate', String(args.chaos.transientRate), '--chaos-seed', String(args.chaos.seed));
  if (args.identity !== undefined) out.push('--identity', args.identity);
  return out;
}

/**
 * Starts test/fixtures/worker.ts as a child process and waits for its ready line. The test's
 * teardown kills it, so a failing test never leaves a worker polling the next test's queues.
 */
export async function startWorker(
  t: ExecutionContext,
  env: EngineEnv,
  kind: 'control' | 'gpu',
  args: GpuWorkerArgs = {},
): Promise<{ proc: WorkerProcess; ready: WorkerReady }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT, kind, ...workerArgs(args)], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...args.env,
      TEMPORAL_ADDRESS: env.temporalAddress,
      TEMPORAL_NAMESPACE: env.namespace,
      DATABASE_URL: env.databaseUrl,
      EVOQUANT_HOME: env.home,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new WorkerProcess(child, `${kind}${args.identity ? ` ${args.identity}` : ''}`);
  t.teardown(() => proc.kill());
  const deadline = Date.now() + 90_000;
  for (;;) {
    const line = proc.output.split('\n').find((l) => l.startsWith(READY_LINE));
    if (line !== undefined) return { proc, ready: JSON.parse(line.slice(READY_LINE.length)) as WorkerReady };
    if (!proc.alive() || Date.now() > deadline) {
      await proc.kill();
      throw new Error(`${proc.name} worker did not become ready:\n${proc.output.slice(-4_000)}`);
    }
    await sleep(50);
  }
}

/** A PATH whose first entry holds a fake `nvidia-smi` reporting `gpus` lines (index, name, MiB). */
export function fakeNvidiaSmiPath(t: ExecutionContext, gpus: string[]): NodeJS.ProcessEnv {
  const root = makeTempDir('fake-gpu');
  t.teardown(() => removeTempDir(root));
  const dir = path.join(root, 'bin');
  mkdirSync(dir, { recursive: true });
  const target = path.join(dir, 'nvidia-smi');
  copyFileSync(FAKE_NVIDIA_SMI, target);
  chmodSync(target, 0o755);
  return { PATH: `${dir}${path.delimiter}${process.env.PATH ?? ''}`, FAKE_NVIDIA_SMI_GPUS: gpus.join('\n') };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin/evoquant.mjs args…` against the test's services (TEMPORAL_ADDRESS / DATABASE_URL). */
export async function runCli(env: EngineEnv, args: string[], timeoutMs = 120_000): Promise<CliRun> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'evoquant.mjs'), ...args], {
    cwd: repoRoot,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.temporalAddress,
      TEMPORAL_NAMESPACE: env.namespace,
      DATABASE_URL: env.databaseUrl,
      EVOQUANT_HOME: env.home,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- evolutions

/** A tiny evolution: one cheap, feasible 4-bit candidate per generation on the reference executor. */
export function tinyConfig(overrides: Partial<EvolutionConfigInput> = {}): EvolutionConfig {
  return EvolutionConfig.parse({
    name: 'engine-test',
    target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2 },
    pool: 'cpu',
    proxy: TEST_PROXY,
    generations: 1,
    populationSize: 1,
    seedRecipes: ['w4a16-g128-rtn'],
    evaluation: { tokens: 1024, calibrationTokens: 512, heartbeatSeconds: 3, maxAttempts: 5 },
    ...overrides,
  });
}

let counter = 0;
/** Workflow ids unique within the file's Temporal server (which outlives each test's database). */
export function evolutionId(label: string): string {
  return `evo-${label}-${process.pid}-${++counter}`;
}

export async function startEvolution(
  client: Client,
  id: string,
  config: EvolutionConfig,
): Promise<WorkflowHandle<typeof evolutionWorkflow>> {
  return client.workflow.start<typeof evolutionWorkflow>('evolutionWorkflow', {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId: id,
    args: [{ evolutionId: id, config }],
  });
}

/** The evolution's result, failing the test after `timeoutMs` instead of hanging until ava's timeout. */
export async function resultWithin(handle: WorkflowHandle<typeof evolutionWorkflow>, timeoutMs: number): Promise<EvolutionStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`evolution ${handle.workflowId} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([handle.result(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function queryStatus(handle: WorkflowHandle<typeof evolutionWorkflow>): Promise<EvolutionStatus> {
  return handle.query(statusQuery);
}

/** Polls `probe` until it returns a value other than undefined. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, { timeoutMs = 60_000, intervalMs = 100 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      // The workflow may not exist yet, a server may be restarting: keep polling.
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? ` (last error: ${lastError.message})` : ''}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------- Temporal history

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

// ---------------------------------------------------------------- database checks

/** Rows of `table` minus distinct rows over its natural key: 0 when nothing is duplicated. */
export async function duplicates(db: Kysely<Database>, table: keyof Database, key: string[]): Promise<number> {
  const cols = sql.join(key.map((k) => sql.ref(k)));
  const r = await sql<{ total: string; distinct: string }>`select count(*) as total, count(distinct (${cols})) as distinct from ${sql.table(table)}`.execute(db);
  const row = r.rows[0];
  return Number(row.total) - Number(row.distinct);
}

export interface CandidateFacts {
  id: string;
  recipeName: string;
  generation: number;
  parents: string[];
  status: string;
  results: number;
  attempts: Array<{ attempt: number; outcome: string | null; worker: string }>;
}

export async function candidateFacts(db: Kysely<Database>, evolution: string): Promise<CandidateFacts[]> {
  const rows = await db
    .selectFrom('candidate')
    .select(['id', 'generation', 'status', 'parent_ids', 'recipe'])
    .select((eb) => eb.selectFrom('result').whereRef('result.candidate_id', '=', 'candidate.id').select(eb.fn.countAll<string>().as('n')).as('results'))
    .where('evolution_id', '=', evolution)
    .orderBy('generation')
    .orderBy('id')
    .execute();
  const out: CandidateFacts[] = [];
  for (const r of rows) {
    const attempts = await db
      .selectFrom('evaluation_attempt')
      .select(['attempt', 'outcome', 'worker_identity'])
      .where('candidate_id', '=', r.id)
      .orderBy('attempt')
      .execute();
    out.push({
      id: r.id,
      recipeName: typeof r.recipe.name === 'string' ? r.recipe.name : '',
      generation: r.generation,
      parents: r.parent_ids,
      status: r.status,
      results: Number(r.results ?? 0),
      attempts: attempts.map((a) => ({ attempt: a.attempt, outcome: a.outcome, worker: a.worker_identity })),
    });
  }
  return out;
}

/** A fresh artifacts dir for the GPU workers of one test (shared by a killed worker and its successor). */
export function artifactsDir(t: ExecutionContext): string {
  const dir = makeTempDir('artifacts');
  t.teardown(() => removeTempDir(dir));
  return dir;
}
