// `npm run demo`: start the embedded stack (left running, inspectable), migrate, run the workers
// in-process, evolve recipes for Qwen3-235B-A22B on 2×A100-80GB with a progress bar, print the frontier.
// Like any CLI command it reaches the engine through engine/client; the workers are launched as
// `evoquant worker` launches them (workers/launch.ts).
import { SingleBar } from 'cli-progress';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { CONTROL_TASK_QUEUE, type CandidateSummary, type EvolutionStatus } from '../../../schema/workflow-contracts.js';
import { connectClient } from '../../client/connection.js';
import { followEvolutionStatus, type EvolutionStatusReport } from '../../client/evolutions.js';
import { startEvolution } from '../../client/start.js';
import { stackEndpoints, startStack, stateDir } from '../../client/stack.js';
import { launchControlWorker, launchGpuWorker } from '../../../workers/launch.js';
import { DEMO_CONFIG } from './demo-config.js';
import type { EvolutionConfig } from '../../../schema/evolution-config.js';

export interface DemoResult {
  evolutionId: string;
  temporalAddress: string;
  webUi: string | null;
  status: EvolutionStatus;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

function row(c: CandidateSummary): string {
  const loss = c.relativeAccuracyLoss === null ? '' : `${(100 * c.relativeAccuracyLoss).toFixed(2)}%`;
  return `  ${c.recipeName.padEnd(56)} ${c.gbPerGpu!.toFixed(1).padStart(6)} GB/GPU   KL ${c.kl!.toExponential(2)}   top-1 loss ${loss}`;
}

export function formatFrontier(status: EvolutionStatus): string {
  const lines = [
    `evolution ${status.evolutionId}: ${status.counts.evaluated} evaluated, ${status.counts.rejected} rejected by compile (not servable: ${status.notServable.children} children, ${status.notServable.seeds} seeds), ${status.counts.failed + status.counts.infeasible} failed`,
    'frontier (fits 2×A100-80GB, servable on vLLM; memory per GPU vs KL on held-out proxy text):',
    ...status.frontier.map(row),
  ];
  if (status.best) lines.push(`best: ${status.best.recipeName} (${status.best.id})`);
  return lines.join('\n');
}

export async function runDemo(): Promise<DemoResult> {
  return runOnEmbeddedStack(DEMO_CONFIG, 'target Qwen3-235B-A22B on 2×A100-80GB, pool cpu');
}

/**
 * Runs one evolution on the embedded stack (started and left running) with in-process workers,
 * following it with a progress bar: the demo, and reports that evolve on other targets.
 */
export async function runOnEmbeddedStack(config: EvolutionConfig, label: string): Promise<DemoResult> {
  // Worker lifecycle chatter would drown the progress bar; warnings and errors still show, except
  // the expected one from the GPU worker, which serves activities only.
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      // Both workers share this process's event loop, so a long CPU-bound quantization step can hold
      // a control activity's heartbeat past its timeout: Temporal retries it (every write is
      // idempotent) and the SDK warns when the late attempt completes. Separate worker processes,
      // as `evoquant worker` runs them, do not see this.
      if (entry.message.startsWith('No workflows registered') || entry.message.startsWith('Activity not found on completion')) return;
      log(`${entry.level} ${entry.message}`);
    }),
  });
  log('starting the embedded stack (Postgres + Temporal dev server, left running for inspection)…');
  const stack = await startStack({ mode: 'detached', temporal: { ui: true } });
  const endpoints = stackEndpoints(stack, stateDir());
  log(`  temporal ${endpoints.temporalAddress}${endpoints.webUi ? `, web UI ${endpoints.webUi}` : ''}; postgres migrated`);
  // The stack migrated the database already.
  const control = await launchControlWorker(endpoints, { migrate: false });
  const gpu = await launchGpuWorker(endpoints, { deviceClass: 'cpu', slots: 1 });
  log(`  workers: control on ${CONTROL_TASK_QUEUE}, reference executor on ${gpu.ready.taskQueue}`);
  const running = Promise.all([control.worker.run(), gpu.worker.run()]);
  // A worker that fails while the evolution runs is reported, not left as an unhandled rejection.
  let stopping = false;
  running.then(
    () => void (stopping || log(`workers stopped early (control ${control.worker.getState()}, gpu ${gpu.worker.getState()})`)),
    (err: unknown) => log(`worker failed: ${err instanceof Error ? err.message : String(err)}`),
  );
  const { client, close } = await connectClient(endpoints);
  try {
    const { id: evolutionId } = await startEvolution(client, config);
    log(`evolution ${evolutionId}: ${config.generations} generations × ${config.populationSize} candidates, ${label}`);
    const bar = new SingleBar({ format: '  generation {value}/{total} |{bar}| {evaluated} evaluated, {rejected} rejected, best KL {best}', stream: process.stderr }, undefined);
    bar.start(config.generations, 0, { evaluated: 0, rejected: 0, best: '—' });
    const show = (s: EvolutionStatus): void =>
      bar.update(Math.min(s.generation, s.generations), { evaluated: s.counts.evaluated, rejected: s.counts.rejected, best: s.best?.kl?.toExponential(2) ?? '—' });
    let last: EvolutionStatusReport | undefined;
    for await (const report of followEvolutionStatus(client, evolutionId, { intervalMs: 500 })) {
      if (report.status) show(report.status);
      last = report;
    }
    bar.stop();
    if (!last?.status) throw new Error(`evolution ${evolutionId} ${last?.workflowStatus.toLowerCase() ?? 'vanished'}: ${last?.failure ?? last?.note ?? 'no result'}`);
    // The workflow's own result is the final word (the follow may end on a report taken mid-run).
    const status = last.status.phase === 'completed' ? last.status : ((await client.workflow.getHandle(evolutionId).result()) as EvolutionStatus);
    return { evolutionId, temporalAddress: endpoints.temporalAddress, webUi: endpoints.webUi, status };
  } finally {
    // A worker that already stopped (it failed, or a signal stopped the runtime) is reported by `running`.
    stopping = true;
    for (const w of [control.worker, gpu.worker]) if (w.getState() === 'RUNNING') w.shutdown();
    await running.catch(() => undefined);
    await control.close();
    await gpu.close();
    await close();
  }
}
