// One Temporal dev server per test file, headless, on a SQLite file in a temp dir.
import type { TestFn } from 'ava';
import { Client, Connection } from '@temporalio/client';
import { ENSURE_SCRIPT, installedTemporalCli, type InstalledOptions } from '../../engine/stack/temporal-cli.js';
import { startTemporalServer, type TemporalServer, type TemporalServerOptions } from '../../engine/stack/temporal-server.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

export interface TestTemporal {
  server: TemporalServer;
  stateDir: string;
  address: string;
  namespace: string;
  /** A connection owned by the helper (closed by stop()); reconnects after restart. */
  connection(): Promise<Connection>;
  client(): Promise<Client>;
  /** Restart the server on the same db file and port; cached connections are dropped first. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export type TestTemporalOptions = Pick<TemporalServerOptions, 'dynamicConfig' | 'extraArgs' | 'ui' | 'logLevel'>;

/**
 * The Temporal CLI for tests: found, never built (a `go install` in a before hook outlives ava's
 * timeout). `npm test` makes sure it exists before ava starts.
 */
export function testTemporalCli(options: InstalledOptions = {}): string {
  const cli = installedTemporalCli(options);
  if (cli === undefined) {
    throw new Error(`no Temporal CLI ($TEMPORAL_CLI, PATH, .tools/bin/temporal): run \`${ENSURE_SCRIPT}\` once (npm test does)`);
  }
  return cli;
}

export async function startTestTemporal(options: TestTemporalOptions = {}): Promise<TestTemporal> {
  const stateDir = makeTempDir('temporal');
  let server: TemporalServer;
  try {
    server = await startTemporalServer({ ui: false, ...options, stateDir, reuse: false, cli: testTemporalCli() });
  } catch (err) {
    removeTempDir(stateDir);
    throw err;
  }
  let connection: Connection | undefined;
  const dropConnection = async (): Promise<void> => {
    await connection?.close().catch(() => undefined);
    connection = undefined;
  };
  const getConnection = async (): Promise<Connection> => {
    connection ??= await Connection.connect({ address: server.address });
    return connection;
  };
  return {
    server,
    stateDir,
    address: server.address,
    namespace: server.namespace,
    connection: getConnection,
    async client() {
      return new Client({ connection: await getConnection(), namespace: server.namespace });
    },
    async restart() {
      await dropConnection();
      await server.restart();
    },
    async stop() {
      await dropConnection();
      // The db file is thrown away: no need for the ~2 s graceful shutdown.
      await server.stop(0);
      removeTempDir(stateDir);
    },
  };
}

/** Registers before/after.always hooks on `test`; see usePostgres for the pattern. */
export function useTemporal<C>(test: TestFn<C>, options: TestTemporalOptions = {}): () => TestTemporal {
  let instance: TestTemporal | undefined;
  test.before(async () => {
    instance = await startTestTemporal(options);
  });
  test.after.always(async () => {
    await instance?.stop();
  });
  return () => {
    if (instance === undefined) throw new Error('Temporal is not started (did test.before fail?)');
    return instance;
  };
}
