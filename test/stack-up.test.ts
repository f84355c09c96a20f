// The whole stack as `evoquant up|status|down` will drive it: start, migrate, find, stop.
import test from 'ava';
import { sql } from 'kysely';
import { createDb } from '../engine/db/connection.js';
import { DatedMigrationProvider, migrationsDir } from '../engine/db/migrate.js';
import { startStack, stackStatus, stopStack } from '../engine/stack/stack.js';
import { removeTestStateDir } from './helpers/postgres.js';
import { makeTempDir } from './helpers/temp-dir.js';
import { testTemporalCli } from './helpers/temporal.js';

const external = ['DATABASE_URL', 'TEMPORAL_ADDRESS'].some((k) => (process.env[k] ?? '') !== '');

(external ? test.skip : test)('up migrates the database; status finds both services; down stops them', async (t) => {
  const dir = makeTempDir('stack');
  const env = { ...process.env, EVOQUANT_HOME: dir };
  const stack = await startStack({ env, postgres: { durable: false }, temporal: { ui: false, cli: testTemporalCli() } });
  t.teardown(async () => {
    await stack.stop();
    removeTestStateDir(dir);
  });

  const status = stackStatus(dir);
  t.is(status.postgres?.url, stack.databaseUrl);
  t.is(status.temporal?.address, stack.temporalAddress);

  const db = createDb(stack.databaseUrl, { max: 1 });
  try {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(db);
    t.is(rows[0]?.n, Object.keys(await new DatedMigrationProvider(migrationsDir).getMigrations()).length, 'every migration applied');
  } finally {
    await db.destroy();
  }

  t.like(await stopStack(dir), { temporal: 'exited', postgres: 'exited' });
  t.deepEqual(stackStatus(dir), { stateDir: dir, postgres: undefined, temporal: undefined });
});
