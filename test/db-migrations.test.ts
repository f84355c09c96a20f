// Migrations: up, down, up again; the strict provider; CHECK constraints that agree with schema/db.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { sql, type Kysely } from 'kysely';
import { listMigrations, migrateDown, migrateToLatest, migrateToNone } from '../engine/db/migrate.js';
import {
  ATTEMPT_OUTCOMES,
  CANDIDATE_STATUSES,
  EKG_EDGE_KINDS,
  EKG_NODE_KINDS,
  EVOLUTION_STATUSES,
  GENERATION_STATUSES,
  type Database,
} from '../schema/db.js';
import { usePostgres } from './helpers/postgres.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const pg = usePostgres(test);

const APP_TABLES = ['candidate', 'ekg_edge', 'ekg_node', 'evaluation_attempt', 'evolution', 'generation', 'reference_result', 'result'];

async function tables(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_name not like 'kysely_%' order by 1`.execute(db);
  return rows.map((r) => r.name);
}

test.serial('up, down to nothing, up again', async (t) => {
  const { db } = await pg().freshDatabase({ migrate: false });

  const first = await migrateToLatest(db);
  t.deepEqual(first.map((r) => [r.migrationName, r.status]), [
    ['2026_11_26_0001_evolution', 'Success'],
    ['2026_11_26_0002_ekg', 'Success'],
    ['2026_11_30_0001_innovations', 'Success'],
    ['2026_11_30_0002_ekg_recent_edges', 'Success'],
    ['2026_11_30_0003_agents', 'Success'],
  ]);
  t.deepEqual(await tables(db), APP_TABLES);
  t.deepEqual(await migrateToLatest(db), [], 'nothing left to run');
  t.true((await listMigrations(db)).every((m) => m.executedAt !== undefined));

  await migrateDown(db, 1);
  t.deepEqual(await tables(db), APP_TABLES.filter((name) => name !== 'reference_result'), 'the agents migration adds reference_result');
  await migrateDown(db, 1);
  t.deepEqual(await tables(db), APP_TABLES.filter((name) => name !== 'reference_result'), 'the recent-edges migration only swaps an index');
  await migrateDown(db, 1);
  t.deepEqual(await tables(db), APP_TABLES.filter((name) => name !== 'reference_result'), 'the innovations migration only widens CHECK constraints');
  await migrateDown(db, 1);
  t.deepEqual(await tables(db), ['candidate', 'evaluation_attempt', 'evolution', 'generation', 'result']);

  await migrateToNone(db);
  t.deepEqual(await tables(db), []);

  await migrateToLatest(db);
  t.deepEqual(await tables(db), APP_TABLES);
});

test.serial('both ends of every edge are indexed, and natural keys are unique', async (t) => {
  const { db } = await pg().freshDatabase();
  const { rows } = await sql<{ indexname: string; indexdef: string }>`
    select indexname, indexdef from pg_indexes where schemaname = 'public' order by 1`.execute(db);
  const defs = new Map(rows.map((r) => [r.indexname, r.indexdef]));
  t.regex(defs.get('ekg_edge_src_kind_idx') ?? '', /\(src, kind\)/);
  t.regex(defs.get('ekg_edge_dst_kind_created_idx') ?? '', /\(dst, kind, created_at\) INCLUDE \(src\)/);
  t.false(defs.has('ekg_edge_dst_kind_idx'), 'superseded by ekg_edge_dst_kind_created_idx');
  t.regex(defs.get('ekg_node_kind_idx') ?? '', /\(kind, name\)/);
  t.regex(defs.get('candidate_evolution_recipe_key') ?? '', /UNIQUE .*\(evolution_id, recipe_hash\)/);
  t.regex(defs.get('evaluation_attempt_pkey') ?? '', /\(candidate_id, attempt\)/);
  t.regex(defs.get('candidate_parent_ids_idx') ?? '', /USING gin/);
});

test.serial('CHECK constraints accept exactly the enumerations of schema/db.ts', async (t) => {
  const { db } = await pg().freshDatabase();
  for (const status of EVOLUTION_STATUSES) {
    await db.insertInto('evolution').values({ id: `e-${status}`, config: '{}', status }).execute();
  }
  for (const status of GENERATION_STATUSES) {
    await db.insertInto('generation').values({ evolution_id: 'e-running', number: GENERATION_STATUSES.indexOf(status), status }).execute();
  }
  for (const status of CANDIDATE_STATUSES) {
    await db
      .insertInto('candidate')
      .values({ id: `c-${status}`, evolution_id: 'e-running', generation: 0, recipe: '{}', recipe_hash: status, status })
      .execute();
  }
  for (const [i, outcome] of ATTEMPT_OUTCOMES.entries()) {
    await db.insertInto('evaluation_attempt').values({ candidate_id: 'c-proposed', attempt: i + 1, worker_identity: 'w', outcome }).execute();
  }
  for (const kind of EKG_NODE_KINDS) await db.insertInto('ekg_node').values({ id: kind, kind, name: kind }).execute();
  for (const kind of EKG_EDGE_KINDS) await db.insertInto('ekg_edge').values({ src: 'candidate', dst: 'technique', kind }).execute();
  t.pass('every enumerated value was accepted');

  const rejects = async (query: { execute(): Promise<unknown> }, constraint: string): Promise<void> => {
    await t.throwsAsync(query.execute(), { message: new RegExp(constraint) });
  };
  // Casts: these values are wrong on purpose.
  await rejects(db.insertInto('evolution').values({ id: 'bad', config: '{}', status: 'paused' as 'running' }), 'evolution_status_check');
  await rejects(db.insertInto('ekg_node').values({ id: 'bad', kind: 'idea' as 'pattern', name: 'x' }), 'ekg_node_kind_check');
  await rejects(db.insertInto('ekg_edge').values({ src: 'pattern', dst: 'pattern', kind: 'requires' }), 'ekg_edge_no_self_loop');
  await rejects(db.insertInto('ekg_edge').values({ src: 'pattern', dst: 'missing', kind: 'requires' }), 'ekg_edge_dst_fkey');
});

test('a dated migration without down() is an error, not silently skipped', async (t) => {
  const folder = makeTempDir('migrations');
  t.teardown(() => removeTempDir(folder));
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, '2026_01_01_0001_half.ts'), 'export async function up() {}\n');
  writeFileSync(path.join(folder, 'README.md'), 'not a migration\n');
  const { db } = await pg().freshDatabase({ migrate: false });
  await t.throwsAsync(migrateToLatest(db, folder), { message: /must export async functions up\(db\) and down\(db\)/ });
});
