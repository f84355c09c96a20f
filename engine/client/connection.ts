// Where the engine's services are: TEMPORAL_ADDRESS / DATABASE_URL when set (a production stack,
// a test's services), otherwise the embedded stack that `evoquant up` recorded in the state dir.
// EVOQUANT_TEMPORAL_TLS_* add (m)TLS towards a remote frontend (see tls.ts).
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { createDb } from '../db/connection.js';
import type { Database } from '../../schema/db.js';
import { stateDir as defaultStateDir } from '../stack/paths.js';
import { stackStatus } from '../stack/stack.js';
import { EngineRequestError, NO_STACK_MESSAGE } from './errors.js';
import { temporalTlsFromEnv } from './tls.js';

export type EndpointSource = 'env' | 'stack';

export interface Endpoints {
  temporalAddress: string;
  namespace: string;
  /** null when neither DATABASE_URL nor a running embedded Postgres is known. */
  databaseUrl: string | null;
  /** The embedded Temporal's Web UI, when it runs one. */
  webUi: string | null;
  source: { temporal: EndpointSource; database: EndpointSource | null };
  stateDir: string;
  /** TLS towards the frontend (TEMPORAL_ADDRESS only: the embedded dev server speaks plain gRPC). */
  tls: TLSConfig | null;
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  stateDir?: string;
}

const set = (v: string | undefined): v is string => v !== undefined && v !== '';

/** Throws EngineRequestError (exit 2) when no Temporal is known: nothing to talk to. */
export function resolveEndpoints(options: ResolveOptions = {}): Endpoints {
  const env = options.env ?? process.env;
  const dir = options.stateDir ?? defaultStateDir(env);
  // Read the state files only when the env leaves something open (they check live pids).
  const needStack = !set(env.TEMPORAL_ADDRESS) || !set(env.DATABASE_URL);
  const stack = needStack ? stackStatus(dir) : { stateDir: dir, postgres: undefined, temporal: undefined };

  let temporalAddress: string;
  let namespace: string;
  let source: EndpointSource;
  if (set(env.TEMPORAL_ADDRESS)) {
    temporalAddress = env.TEMPORAL_ADDRESS;
    namespace = set(env.TEMPORAL_NAMESPACE) ? env.TEMPORAL_NAMESPACE : 'default';
    source = 'env';
  } else if (stack.temporal !== undefined) {
    temporalAddress = stack.temporal.address;
    namespace = set(env.TEMPORAL_NAMESPACE) ? env.TEMPORAL_NAMESPACE : stack.temporal.namespace;
    source = 'stack';
  } else {
    throw new EngineRequestError(NO_STACK_MESSAGE);
  }

  const tls = temporalTlsFromEnv(env);
  if (tls !== null && source === 'stack') {
    throw new EngineRequestError('EVOQUANT_TEMPORAL_TLS_*: set, but TEMPORAL_ADDRESS is not: the embedded dev server has no TLS; point TEMPORAL_ADDRESS at the TLS frontend');
  }

  const databaseUrl = set(env.DATABASE_URL) ? env.DATABASE_URL : (stack.postgres?.url ?? null);
  const uiPort = source === 'stack' ? (stack.temporal?.uiPort ?? null) : null;
  return {
    temporalAddress,
    namespace,
    databaseUrl,
    webUi: uiPort === null ? null : `http://127.0.0.1:${uiPort}`,
    source: { temporal: source, database: set(env.DATABASE_URL) ? 'env' : stack.postgres ? 'stack' : null },
    stateDir: dir,
    tls,
  };
}

/** The database URL, or EngineRequestError when no database is known. */
export function requireDatabaseUrl(endpoints: Endpoints): string {
  if (endpoints.databaseUrl === null) throw new EngineRequestError(`${NO_STACK_MESSAGE}; or set DATABASE_URL`);
  return endpoints.databaseUrl;
}

export interface EngineClient {
  client: Client;
  close(): Promise<void>;
}

export async function connectClient(endpoints: Endpoints): Promise<EngineClient> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: endpoints.temporalAddress, tls: endpoints.tls ?? undefined, connectTimeout: 5_000 });
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    // A stale state file or a wrong TEMPORAL_ADDRESS: the operator's to fix, like a missing stack.
    throw new EngineRequestError(`cannot reach Temporal at ${endpoints.temporalAddress}: ${reason}`);
  }
  return { client: new Client({ connection, namespace: endpoints.namespace }), close: () => connection.close() };
}

export function openDatabase(endpoints: Endpoints): Kysely<Database> {
  return createDb(requireDatabaseUrl(endpoints), { max: 2, applicationName: 'evoquant-cli' });
}

/** Runs `fn` with a connected client and closes it afterwards, whatever happens. */
export async function withClient<T>(endpoints: Endpoints, fn: (client: Client) => Promise<T>): Promise<T> {
  const { client, close } = await connectClient(endpoints);
  try {
    return await fn(client);
  } finally {
    await close().catch(() => undefined);
  }
}

/** Runs `fn` with a database handle and destroys the pool afterwards. */
export async function withDatabase<T>(endpoints: Endpoints, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const db = openDatabase(endpoints);
  try {
    return await fn(db);
  } finally {
    await db.destroy().catch(() => undefined);
  }
}
