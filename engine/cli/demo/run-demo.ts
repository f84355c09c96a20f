// `npm run demo`: start the embedded stack (left running, inspectable), migrate, run the workers
// in-process, evolve recipes for Qwen3-235B-A22B on 2×A100-80GB with a progress bar, print the frontier.
import { randomBytes } from 'node:crypto';
import { SingleBar } from 'cli-progress';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { CONTROL_TASK_QUEUE, type CandidateSummary, type EvolutionStatus } from '../../../schema/workflow-contracts.js';
import { startStack } from '../../stack/stack.js';
import { createControlWorker } from '../../../workers/control-worker.js';
import { createGpuWorker } from '../../../workers/gpu-worker.js';
import { evolutionWorkflow } from '../../../workflows/evolution.js';
import { statusQuery } from '../../../workflows/messages.js';
import { DEMO_CONFIG } from './demo-config.js';

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
    `evolution ${status.evolutionId}: ${status.counts.evaluated} evaluated, ${status.counts.rejected} rejected by compile, ${status.counts.failed + status.counts.infeasible} failed`,
    'frontier (fits 2×A100-80GB; memory per GPU vs KL on held-out proxy text):',
    ...status.frontier.map(row),
  ];
  if (status.best) lines.push(`best: ${status.best.recipeName} (${status.best.id})`);
  return lines.join('\n');
}

export async function runDemo(): Promise<DemoResult> {
  // Worker lifecycle chatter would drown the progress bar; warnings and errors still show, except
  // the expected one from the GPU worker, which serves activities only.
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      if (!entry.message.startsWith('No workflows registered')) log(`${entry.level} ${entry.message}`);
    }),
  });
  log('starting the embedded stack (Postgres + Temporal dev server, left running for inspection)…');
  const stack = await startStack({ mode: 'detached', temporal: { ui: true } });
  const webUi = stack.temporal?.state.uiPort ? `http://127.0.0.1:${stack.temporal.state.uiPort}` : null;
  log(`  temporal ${stack.temporalAddress}${webUi ? `, web UI ${webUi}` : ''}; postgres migrated`);
  const control = await createControlWorker({ temporalAddress: stack.temporalAddress, namespace: stack.temporalNamespace, databaseUrl: stack.databaseUrl });
  const gpu = await createGpuWorker({ temporalAddress: stack.temporalAddress, namespace: stack.temporalNamespace, deviceClass: 'cpu' });
  log(`  workers: control on ${CONTROL_TASK_QUEUE}, reference executor on ${gpu.taskQueue}`);
  const running = Promise.all([control.worker.run(), gpu.worker.run()]);
  // A worker that fails while the evolution runs is reported, not left as an unhandled rejection.
  running.catch((err: unknown) => log(`worker failed: ${err instanceof Error ? err.message : String(err)}`));
  const connection = await Connection.connect({ address: stack.temporalAddress });
  try {
    const client = new Client({ connection, namespace: stack.temporalNamespace });
    const evolutionId = `${DEMO_CONFIG.name}-${randomBytes(3).toString('hex')}`;
    const handle = await client.workflow.start(evolutionWorkflow, { taskQueue: CONTROL_TASK_QUEUE, workflowId: evolutionId, args: [{ evolutionId, config: DEMO_CONFIG }] });
    log(`evolution ${evolutionId}: ${DEMO_CONFIG.generations} generations × ${DEMO_CONFIG.populationSize} candidates, target Qwen3-235B-A22B on 2×A100-80GB, pool cpu`);
    const bar = new SingleBar({ format: '  generation {value}/{total} |{bar}| {evaluated} evaluated, {rejected} rejected, best KL {best}', stream: process.stderr }, undefined);
    bar.start(DEMO_CONFIG.generations, 0, { evaluated: 0, rejected: 0, best: '—' });
    const poll = setInterval(() => {
      handle
        .query(statusQuery)
        .then((s) => bar.update(Math.min(s.generation, s.generations), { evaluated: s.counts.evaluated, rejected: s.counts.rejected, best: s.best?.kl?.toExponential(2) ?? '—' }))
        .catch(() => undefined);
    }, 500);
    const status = await handle.result().finally(() => clearInterval(poll));
    bar.update(status.generation, { evaluated: status.counts.evaluated, rejected: status.counts.rejected, best: status.best?.kl?.toExponential(2) ?? '—' });
    bar.stop();
    return { evolutionId, temporalAddress: stack.temporalAddress, webUi, status };
  } finally {
    control.worker.shutdown();
    gpu.worker.shutdown();
    await running;
    await control.close();
    await gpu.close();
    await connection.close();
  }
}
