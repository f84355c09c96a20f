// One Postgres per test file: an embedded server in a temp dir (or the server DATABASE_URL names),
// with a fresh, optionally migrated database per test so tests never see each other's rows.
import { randomBytes } from 'node:crypto';
import type { TestFn } from 'ava';
import type { Kysely } from 'kysely';
import { createDb } from '../../engine/db/connection.js';
import { migrateToLatest } from '../../engine/db/migrate.js';
import type { Database } from '../../schema/db.js';
import { startPostgres, type PostgresService } from '../../engine/stack/postgres.js';
import { removeRelocatedPostgres } from '../../engine/stack/postgres-placement.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

export interface FreshDatabase {
  name: string;
  url: string;
  db: Kysely<Database>;
}

export interface TestPostgres {
  service: PostgresService;
  /** The temp state dir (undefined with DATABASE_URL). */
  stateDir: string | undefined;
  /** A new empty database; closed and dropped by stop(). */
  freshDatabase(options?: { migrate?: boolean }): Promise<FreshDatabase>;
  stop(): Promise<void>;
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const external = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';
  const stateDir = external ? undefined : makeTempDir('pg');
  let service: PostgresService;
  try {
    // Not durable: fsync off makes initdb-and-start a lot cheaper; clean restarts keep data anyway.
    service = await startPostgres({ stateDir, durable: false, database: 'evoquant_test' });
  } catch (err) {
    if (stateDir !== undefined) removeTestStateDir(stateDir);
    throw err;
  }
  const created: FreshDatabase[] = [];
  return {
    service,
    stateDir,
    async freshDatabase({ migrate = true } = {}) {
      const name = `t_${randomBytes(6).toString('hex')}`;
      const url = await service.createDatabase(name);
      const db = createDb(url, { max: 4 });
      const fresh = { name, url, db };
      created.push(fresh);
      if (migrate) await migrateToLatest(db);
      return fresh;
    },
    async stop() {
      for (const { db } of created) await db.destroy().catch(() => undefined);
      if (service.external) {
        for (const { name } of created) await service.dropDatabase(name).catch(() => undefined);
      }
      await service.stop();
      if (stateDir !== undefined) removeTestStateDir(stateDir);
    },
  };
}

/**
 * Removes a throwaway state dir, and the data dir evoquant moved out of it (as root, when the
 * postgres user cannot reach the temp dir, e.g. TMPDIR under a 0700 parent).
 */
export function removeTestStateDir(stateDir: string): void {
  removeRelocatedPostgres(stateDir);
  removeTempDir(stateDir);
}

/**
 * Registers before/after.always hooks on `test` and returns an accessor, e.g.
 *   const pg = usePostgres(test);
 *   test('x', async (t) => { const { db } = await pg().freshDatabase(); ... });
 */
export function usePostgres<C>(test: TestFn<C>): () => TestPostgres {
  let instance: TestPostgres | undefined;
  test.before(async () => {
    instance = await startTestPostgres();
  });
  test.after.always(async () => {
    await instance?.stop();
  });
  return () => {
    if (instance === undefined) throw new Error('Postgres is not started (did test.before fail?)');
    return instance;
  };
}
