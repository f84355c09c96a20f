// The whole local stack (Postgres + Temporal) for `evoquant up|down|status` and for tests:
// start both, migrate the database, and find or stop them later through the state dir.
import { createDb } from '../db/connection.js';
import { migrateToLatest } from '../db/migrate.js';
import { stateDir as defaultStateDir } from './paths.js';
import { recordedPostgresRoot } from './postgres-placement.js';
import { readPostgresState, startPostgres, stopPostgres, type PostgresOptions, type PostgresService } from './postgres.js';
import type { StopOutcome } from './processes.js';
import type { PostgresState, TemporalState } from './state-file.js';
import { readTemporalState, startTemporalServer, stopTemporalServer, waitForTemporal, type TemporalServerOptions } from './temporal-server.js';

export interface StackOptions {
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  mode?: 'attached' | 'detached';
  /** Run migrations after Postgres is up (default true). */
  migrate?: boolean;
  postgres?: Omit<PostgresOptions, 'stateDir' | 'env' | 'mode'>;
  temporal?: Omit<TemporalServerOptions, 'stateDir' | 'mode'>;
}

export interface Stack {
  postgres: PostgresService;
  /** The local server, or undefined when TEMPORAL_ADDRESS names an external one. */
  temporal: Awaited<ReturnType<typeof startTemporalServer>> | undefined;
  databaseUrl: string;
  temporalAddress: string;
  temporalNamespace: string;
  stop(): Promise<void>;
}

/** Starts (or adopts) both services of the state dir. TEMPORAL_ADDRESS / DATABASE_URL select external ones. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const env = options.env ?? process.env;
  const dir = options.stateDir ?? defaultStateDir(env);
  const postgres = await startPostgres({ ...options.postgres, stateDir: dir, env, mode: options.mode });
  try {
    if (options.migrate ?? true) {
      const db = createDb(postgres.url, { max: 1 });
      try {
        await migrateToLatest(db);
      } finally {
        await db.destroy();
      }
    }
    const externalTemporal = env.TEMPORAL_ADDRESS;
    if (externalTemporal !== undefined && externalTemporal !== '') {
      const namespace = env.TEMPORAL_NAMESPACE ?? options.temporal?.namespace ?? 'default';
      await waitForTemporal(externalTemporal, { namespace, timeoutMs: options.temporal?.readyTimeoutMs ?? 30_000 });
      return {
        postgres,
        temporal: undefined,
        databaseUrl: postgres.url,
        temporalAddress: externalTemporal,
        temporalNamespace: namespace,
        stop: async () => {
          await postgres.stop();
        },
      };
    }
    const temporal = await startTemporalServer({ ...options.temporal, stateDir: dir, mode: options.mode });
    return {
      postgres,
      temporal,
      databaseUrl: postgres.url,
      temporalAddress: temporal.address,
      temporalNamespace: temporal.namespace,
      stop: async () => {
        await temporal.stop();
        await postgres.stop();
      },
    };
  } catch (err) {
    await postgres.stop().catch(() => undefined);
    throw err;
  }
}

export interface StackStatus {
  stateDir: string;
  postgres: PostgresState | undefined;
  temporal: TemporalState | undefined;
}

/** What runs for the state dir (only live processes are reported). */
export function stackStatus(dir: string = defaultStateDir()): StackStatus {
  return { stateDir: dir, postgres: readPostgresState(dir), temporal: readTemporalState(dir) };
}

/** Stops whatever runs for the state dir; data stays on disk. */
export async function stopStack(dir: string = defaultStateDir()): Promise<{ temporal: StopOutcome; postgres: StopOutcome; postgresRoot: string }> {
  const temporal = await stopTemporalServer(dir);
  const postgres = await stopPostgres(dir);
  // Where the Postgres files are kept: under the state dir, or where they were relocated for the postgres user.
  return { temporal, postgres, postgresRoot: recordedPostgresRoot(dir) };
}
