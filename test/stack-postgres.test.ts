// The local Postgres: persistence across restarts (clean and crash), adoption by a second
// process, stop through the state dir, and the symlink repair of the binaries package.
import { mkdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { sql } from 'kysely';
import { createDb } from '../engine/db/connection.js';
import { createEvolution, getEvolution } from '../engine/db/evolutions.js';
import { hydrateSymlinks, postgresBinaries } from '../engine/stack/postgres-binaries.js';
import { readPostgresState, startPostgres, stopPostgres } from '../engine/stack/postgres.js';
import { isAlive } from '../engine/stack/processes.js';
import { usePostgres } from './helpers/postgres.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const external = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';
const local = external ? test.serial.skip : test.serial;
const pg = usePostgres(test);

local('a live pool keeps working across a restart, and the data is still there', async (t) => {
  const { service } = pg();
  const { db } = await pg().freshDatabase();
  await createEvolution(db, { id: 'wf-restart', config: { target: 'a100x2' } });

  await service.restart();

  // The pool dropped its broken idle connections; the next query opens a new one.
  const row = await getEvolution(db, 'wf-restart');
  t.deepEqual(row?.config, { target: 'a100x2' });
});

local('a crash (immediate stop) loses no committed row', async (t) => {
  const { service } = pg();
  const { db } = await pg().freshDatabase();
  await db.transaction().execute(async (trx) => {
    // The test server runs with synchronous_commit=off; make this commit write its WAL first.
    await sql`set local synchronous_commit = on`.execute(trx);
    await createEvolution(trx, { id: 'wf-crash', config: {} });
  });

  t.not(await service.stop('immediate'), 'not-running');
  await service.start();

  t.truthy(await getEvolution(db, 'wf-crash'));
});

local('another process adopts the running server; a stopped one restarts on its data and credentials', async (t) => {
  const { service, stateDir } = pg();
  const dir = stateDir as string;
  const url = service.url;
  const state = readPostgresState(dir);
  t.truthy(state);

  // "Another process": a new service object on the same state dir.
  const adopted = await startPostgres({ stateDir: dir, database: 'evoquant_test' });
  t.is(adopted.url, url);
  t.is(readPostgresState(dir)?.pid, state?.pid, 'adopted, not started twice');

  const pgVersion = statSync(path.join(dir, 'postgres', 'data', 'PG_VERSION')).mtimeMs;
  t.is(await stopPostgres(dir), 'exited', '`evoquant down` path: stop through the state file');
  t.false(isAlive(state?.pid ?? -1));
  t.is(readPostgresState(dir), undefined);

  await service.start();
  t.is(service.url, url, 'same port and password');
  t.is(statSync(path.join(dir, 'postgres', 'data', 'PG_VERSION')).mtimeMs, pgVersion, 'no second initdb');
  const db = createDb(service.url, { max: 1 });
  try {
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
    t.is(rows[0]?.one, 1);
  } finally {
    await db.destroy();
  }
});

test('missing library symlinks of the binaries package are recreated', (t) => {
  const root = makeTempDir('pg-pkg');
  t.teardown(() => removeTempDir(root));
  mkdirSync(path.join(root, 'native', 'lib'), { recursive: true });
  writeFileSync(path.join(root, 'native', 'lib', 'libpq.so.5.17'), '');
  writeFileSync(
    path.join(root, 'native', 'pg-symlinks.json'),
    JSON.stringify([
      { source: 'native/lib/libpq.so.5.17', target: 'native/lib/libpq.so.5' },
      { source: 'native/lib/libpq.so.5.17', target: 'native/lib/libpq.so' },
    ]),
  );
  t.is(hydrateSymlinks(root), 2);
  t.is(readlinkSync(path.join(root, 'native', 'lib', 'libpq.so.5')), 'libpq.so.5.17');
  t.is(hydrateSymlinks(root), 0, 'idempotent');
});

test('the installed binaries package is complete', (t) => {
  const bins = postgresBinaries();
  for (const file of [bins.initdb, bins.pgCtl, bins.postgres]) t.true(statSync(file).isFile());
});
