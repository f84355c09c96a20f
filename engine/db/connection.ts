// Kysely over a pg Pool. One pool per process is the norm; tests create one per database.
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from '../../schema/db.js';

/** What every repository function takes first: the database or an open transaction. */
export type DbOrTrx = Kysely<Database> | Transaction<Database>;

export interface DbOptions {
  /** Pool size (default 10). */
  max?: number;
  applicationName?: string;
  /**
   * Errors of idle pooled connections, e.g. when Postgres restarts. The pool drops the broken
   * connection either way; without a listener Node would crash on the 'error' event.
   */
  onIdleError?: (err: Error) => void;
}

export function createDb(url: string, options: DbOptions = {}): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'evoquant',
    // Fail instead of hanging when the server is down.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', options.onIdleError ?? (() => undefined));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
