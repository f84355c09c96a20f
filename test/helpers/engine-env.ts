// Where the engine tests' worker processes connect, and the EVOQUANT_HOME they share (with the
// workflow bundle built once for every engine test file).
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Database } from '../../schema/db.js';
import { workflowBundlePath } from '../../workers/workflow-bundle.js';
import type { TestStack } from './stack.js';

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
