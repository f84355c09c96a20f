// The local Postgres: persistence across restarts (clean and crash), adoption by a second
// process, stop through the state dir, no shell for state-dir paths, binaries the postgres user
// cannot reach, and the symlink repair of the binaries package.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { sql } from 'kysely';
import { createDb } from '../engine/db/connection.js';
import { createEvolution, getEvolution } from '../engine/db/evolutions.js';
import { isRoot } from '../engine/stack/os-user.js';
import { binariesIn, hydrateSymlinks, postgresBinaries } from '../engine/stack/postgres-binaries.js';
import { SHARED_BASE, stagedBinariesDir } from '../engine/stack/postgres-placement.js';
import { readPostgresState, startPostgres, stopPostgres } from '../engine/stack/postgres.js';
import { isAlive } from '../engine/stack/processes.js';
import { removeTestStateDir, usePostgres } from './helpers/postgres.js';
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

  const pgVersionFile = path.join(state?.dataDir ?? '', 'PG_VERSION');
  const pgVersion = statSync(pgVersionFile).mtimeMs;
  t.is(await stopPostgres(dir), 'exited', '`evoquant down` path: stop through the state file');
  t.false(isAlive(state?.pid ?? -1));
  t.is(readPostgresState(dir), undefined);

  await service.start();
  t.is(service.url, url, 'same port and password');
  t.is(statSync(pgVersionFile).mtimeMs, pgVersion, 'no second initdb');
  const db = createDb(service.url, { max: 1 });
  try {
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
    t.is(rows[0]?.one, 1);
  } finally {
    await db.destroy();
  }
});

/** Files the path's shell commands would create, anywhere under `dir`. */
function planted(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /^pwned\d?$/.test(path.basename(f)));
}

async function selectOne(url: string): Promise<number | undefined> {
  const db = createDb(url, { max: 1 });
  try {
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
    return rows[0]?.one;
  } finally {
    await db.destroy();
  }
}

local('a state dir path with $(…), backquotes, quotes and spaces never reaches a shell', async (t) => {
  const parent = makeTempDir('pg-shell');
  // pg_ctl used to run `postgres -D "<dir>"` through /bin/sh, as the postgres user, in <dir>/postgres.
  const dir = path.join(parent, 'state $(touch pwned) `touch pwned2` "q" \'x\' ;touch pwned3');
  t.teardown(() => removeTestStateDir(dir));
  t.teardown(() => removeTempDir(parent));
  const service = await startPostgres({ stateDir: dir, durable: false, database: 'evoquant_test', log: () => undefined });
  t.teardown(() => service.stop());
  t.is(await selectOne(service.url), 1);
  const state = readPostgresState(dir);
  t.truthy(state);
  const dataDir = state?.dataDir ?? '';
  t.true(dataDir === path.join(dir, 'postgres', 'data') || dataDir.startsWith(`${SHARED_BASE}/`), dataDir);
  await service.restart();
  t.is(await selectOne(service.url), 1);
  t.deepEqual(planted(parent), []);
  t.deepEqual(planted(path.dirname(dataDir)), []);
});

(isRoot() ? local : test.serial.skip)('as root, binaries the postgres user cannot execute are copied where it can', async (t) => {
  // A checkout in a 0700 directory (mktemp -d, /root): node_modules is out of the postgres user's reach.
  const privateDir = mkdtempSync(path.join(os.tmpdir(), 'evoquant-private-bins-'));
  t.is(statSync(privateDir).mode & 0o777, 0o700);
  const pkg = path.join(privateDir, 'node_modules', 'pkg');
  const installed = postgresBinaries();
  cpSync(path.join(installed.root, 'native'), path.join(pkg, 'native'), { recursive: true, verbatimSymlinks: true });
  cpSync(path.join(installed.root, 'package.json'), path.join(pkg, 'package.json'));
  const staged = stagedBinariesDir(pkg);
  const stateDir = makeTempDir('pg-bins');
  t.teardown(() => {
    rmSync(staged, { recursive: true, force: true });
    removeTempDir(privateDir);
    removeTestStateDir(stateDir);
  });

  const service = await startPostgres({ stateDir, durable: false, binaries: binariesIn(pkg), log: () => undefined });
  t.teardown(() => service.stop());
  t.is(await selectOne(service.url), 1);
  t.true(statSync(path.join(staged, 'native', 'bin', 'postgres')).isFile());
  t.is(statSync(staged).mode & 0o777, 0o755);
  t.true(staged.startsWith('/var/lib/evoquant/'), 'durable, not /tmp');
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
  for (const file of [bins.initdb, bins.postgres]) t.true(statSync(file).isFile());
});
