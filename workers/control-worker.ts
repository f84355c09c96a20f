// The control worker: serves the workflows and the propose / compile / record activities on
// the evoquant-control queue. It needs Temporal and Postgres, never a GPU.
import { hostname } from 'node:os';
import { NativeConnection, Worker, type TLSConfig } from '@temporalio/worker';
import { createAgentActivities } from '../activities/agents/index.js';
import { createControlActivities } from '../activities/control.js';
import { keepingAlive } from '../activities/keep-alive.js';
import { createDb } from '../engine/db/connection.js';
import { CONTROL_TASK_QUEUE } from '../schema/workflow-contracts.js';
import { workflowBundlePath } from './workflow-bundle.js';

export interface ControlWorkerOptions {
  temporalAddress: string;
  namespace: string;
  /** TLS / mTLS towards a remote frontend; absent or null: plain gRPC. */
  tls?: TLSConfig | null;
  databaseUrl: string;
  identity?: string;
}

export async function createControlWorker(options: ControlWorkerOptions): Promise<{ worker: Worker; close(): Promise<void> }> {
  const connection = await NativeConnection.connect({ address: options.temporalAddress, tls: options.tls ?? undefined });
  const db = createDb(options.databaseUrl, { applicationName: 'evoquant-control' });
  const worker = await Worker.create({
    connection,
    namespace: options.namespace,
    taskQueue: CONTROL_TASK_QUEUE,
    identity: options.identity ?? `control@${hostname()}/${process.pid}`,
    workflowBundle: { codePath: await workflowBundlePath() },
    // Heartbeats let Temporal retry the task of a control worker that died within seconds.
    activities: keepingAlive({ ...createControlActivities({ db }), ...createAgentActivities({ db }) }),
  });
  return {
    worker,
    async close() {
      await db.destroy();
      await connection.close();
    },
  };
}
