// The README's commands from a state dir under a 0700 parent (a root home, any `mktemp -d`), as a
// new user runs them: `evoquant up`, a query, `down`, `up` again finds the same data. As root the
// Postgres data then lives under /var/lib/evoquant, said once, recorded in the state dir.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { sql } from 'kysely';
import { z } from 'zod';
import { createDb } from '../engine/db/connection.js';
import { isRoot, lookupUser } from '../engine/stack/os-user.js';
import { repoRoot } from '../engine/stack/paths.js';
import { relocatedPostgresRoot, SHARED_BASE } from '../engine/stack/postgres-placement.js';
import { readPostgresState } from '../engine/stack/postgres.js';
import { stopStack } from '../engine/stack/stack.js';
import { postgresLocationFile } from '../engine/stack/state-file.js';
import { removeTestStateDir, startTestPostgres } from './helpers/postgres.js';
import { removeTempDir } from './helpers/temp-dir.js';
import { testTemporalCli } from './helpers/temporal.js';

const external = ['DATABASE_URL', 'TEMPORAL_ADDRESS'].some((k) => (process.env[k] ?? '') !== '');
const run = promisify(execFile);

const UpJson = z.object({
  stateDir: z.string(),
  postgres: z.object({ url: z.string(), external: z.boolean(), dataDir: z.string().nullable() }),
});

/** The CLI as a user runs it, with only EVOQUANT_HOME set. */
async function evoquant(home: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, EVOQUANT_HOME: home, TEMPORAL_CLI: testTemporalCli() };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  return run(process.execPath, [path.join(repoRoot, 'bin', 'evoquant.mjs'), ...args], { env, cwd: repoRoot, timeout: 180_000 });
}

async function query<T>(url: string, body: (db: ReturnType<typeof createDb>) => Promise<T>): Promise<T> {
  const db = createDb(url, { max: 1 });
  try {
    return await body(db);
  } finally {
    await db.destroy();
  }
}

(external ? test.serial.skip : test.serial)('up, query, down, up again: the same data, from a state dir under a 0700 parent', async (t) => {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'evoquant-private-'));
  t.is(statSync(parent).mode & 0o777, 0o700, 'mktemp -d makes it 0700');
  const home = path.join(parent, '.evoquant');
  t.teardown(async () => {
    await stopStack(home).catch(() => undefined);
    removeTestStateDir(home);
    removeTempDir(parent);
  });

  const first = await evoquant(home, 'up', '--json', '--show-secrets');
  const up = UpJson.parse(JSON.parse(first.stdout));
  const dataDir = up.postgres.dataDir ?? '';
  if (isRoot()) {
    t.is(path.dirname(dataDir), relocatedPostgresRoot(home), 'under /var/lib/evoquant, not /tmp');
    t.true(dataDir.startsWith(`${SHARED_BASE}/`));
    const pgUser = lookupUser('postgres');
    const stat = statSync(dataDir);
    t.is(stat.uid, pgUser?.uid ?? -1);
    t.is(stat.mode & 0o777, 0o700);
    t.is(statSync(path.dirname(path.dirname(dataDir))).mode & 0o777, 0o755, 'parents traversable');
    t.is(first.stderr.match(/Postgres data is in /g)?.length, 1, `said once: ${first.stderr}`);
    t.true(first.stderr.includes(path.dirname(dataDir)));
    t.is(JSON.parse(readFileSync(postgresLocationFile(home), 'utf8')).rootDir, path.dirname(dataDir), 'recorded in the state dir');
  } else {
    t.is(dataDir, path.join(home, 'postgres', 'data'));
  }
  await query(up.postgres.url, async (db) => {
    await sql`create table kept (x int)`.execute(db);
    await sql`insert into kept values (42)`.execute(db);
  });

  const down = await evoquant(home, 'down', '--json');
  t.like(JSON.parse(down.stdout), { temporal: 'exited', postgres: 'exited' });
  t.is(readPostgresState(home), undefined);

  const again = await evoquant(home, 'up');
  t.notRegex(again.stderr, /Postgres data is in /, 'said only the first time');
  const state = readPostgresState(home);
  t.is(state?.dataDir, dataDir, 'up finds the same data dir');
  const password = state?.password ?? '';
  t.true(password.length > 8);
  t.false(again.stdout.includes(password), 'up prints no password');
  t.regex(again.stdout, /Postgres: {2}postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/evoquant/);
  const adopted = UpJson.parse(JSON.parse((await evoquant(home, 'up', '--json')).stdout));
  t.is(adopted.postgres.url, (state?.url ?? '').replace(`:${encodeURIComponent(password)}@`, ':***@'), '--json masks it too');
  const rows = await query(state?.url ?? '', async (db) => (await sql<{ x: number }>`select x from kept`.execute(db)).rows);
  t.deepEqual(rows, [{ x: 42 }]);

  const last = await evoquant(home, 'down');
  t.regex(last.stdout, /stopped: Temporal exited, Postgres exited/);
  t.true(last.stdout.includes(path.dirname(dataDir)), `down names where the data is: ${last.stdout}`);
});

(external ? test.serial.skip : test.serial)('the test Postgres helper works with TMPDIR under a 0700 parent, and cleans up after itself', async (t) => {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'evoquant-private-tmp-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = parent;
  t.teardown(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    removeTempDir(parent);
  });
  const pg = await startTestPostgres();
  const stateDir = pg.stateDir ?? '';
  t.true(stateDir.startsWith(parent));
  const { db } = await pg.freshDatabase();
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(db);
  t.true((rows[0]?.n ?? 0) > 0);
  const relocated = relocatedPostgresRoot(stateDir);
  await pg.stop();
  t.throws(() => statSync(path.dirname(relocated)), { code: 'ENOENT' }, 'the relocated data dir is gone with the test');
});
