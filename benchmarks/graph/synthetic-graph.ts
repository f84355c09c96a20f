// A synthetic but realistic knowledge graph for the query benchmark, generated inside Postgres
// (INSERT … SELECT over generate_series; nothing row by row from JavaScript) on top of the real seed
// graph of innovations. What it holds, for a target of N nodes:
// - evolutions of 8–32 candidates per generation and 10–60 generations, as many as N needs (the
//   last one cut short), each with its generation rows;
// - one candidate row per candidate node, its parents in parent_ids, 80 % evaluated (a result row
//   whose KL falls with memory and with the generation, so each evolution has a real Pareto
//   front), 12 % rejected by compile with a violation code, 8 % failed with a failure class;
// - edges as the engine writes them (evolution/knowledge/record-outcome.ts): derived-from 1–2
//   parents in the 1–3 generations before (generation 0 derives from an executable innovation),
//   applies-pattern to the technique its mutation applied, improved-over where the child fits and
//   beats the parent's KL, failed-because to the violation or failure node.
// Randomness is hashint8extended of the row number and a salt: the same N gives the same graph.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DbOrTrx } from '../../engine/db/connection.js';
import type { Database } from '../../schema/db.js';

/** Violation codes compile reports (science/physics) and failure classes (schema/failures.ts). */
const VIOLATIONS = ['does-not-fit', 'shard-shape', 'kernel-unsupported', 'not-servable'] as const;
const FAILURES = ['GpuOutOfMemory', 'NonFiniteQuantizationError', 'HessianNotPositiveDefiniteError', 'MissingCalibrationError'] as const;
/** Most rejections are for memory: 12 : 4 : 3 : 1. */
const VIOLATION_DRAW = [...Array<string>(12).fill('does-not-fit'), ...Array<string>(4).fill('shard-shape'), ...Array<string>(3).fill('kernel-unsupported'), 'not-servable'];

export interface SyntheticGraph {
  nodes: number;
  edges: number;
  evolutions: number;
  candidates: number;
  results: number;
  /** Seconds to generate the rows (indexes maintained, foreign keys checked afterwards). */
  loadSeconds: number;
  /** Seconds of ANALYZE and the integrity check after loading. */
  analyzeSeconds: number;
}

/** A uniform number in [0, 1) from (row, salt), reproducible. */
const u = (row: RawBuilder<unknown>, salt: number): RawBuilder<number> =>
  sql<number>`((hashint8extended((${row})::bigint, ${sql.lit(salt)}) & 4294967295)::float8 / 4294967296.0)`;
/** A whole number in [0, n) from (row, salt). */
const pick = (row: RawBuilder<unknown>, salt: number, n: RawBuilder<unknown> | number): RawBuilder<number> =>
  sql<number>`((hashint8extended((${row})::bigint, ${sql.lit(salt)}) & 2147483647) % (${typeof n === 'number' ? sql.lit(n) : n}))`;

const textArray = (xs: readonly string[]): RawBuilder<string[]> => sql<string[]>`array[${sql.join(xs.map((x) => sql.lit(x)))}]::text[]`;

/**
 * Adds about `candidates` candidate nodes (with their rows and edges) to a migrated, seeded database.
 * Foreign-key triggers are off while loading (the rows are valid by construction; checkIntegrity
 * checks them in one pass afterwards), which needs a superuser, as the embedded server's is.
 */
export function loadSyntheticGraph(db: Kysely<Database>, candidates: number): Promise<Pick<SyntheticGraph, 'evolutions' | 'candidates'>> {
  // One connection: the session settings below must hold for every statement.
  return db.connection().execute((conn) => load(conn, candidates));
}

async function load(db: Kysely<Database>, candidates: number): Promise<Pick<SyntheticGraph, 'evolutions' | 'candidates'>> {
  // Progress on stderr, step by step: the million-node load takes minutes.
  let last = performance.now();
  const step = (what: string): void => {
    process.stderr.write(`    ${what}: ${((performance.now() - last) / 1000).toFixed(1)} s\n`);
    last = performance.now();
  };
  const techniques = (await db.selectFrom('ekg_node').select('id').where('kind', '=', 'technique').orderBy('id').execute()).map((r) => r.id);
  const innovations = (
    await db
      .selectFrom('ekg_node')
      .select('id')
      .where('kind', '=', 'innovation')
      .where(sql<boolean>`(payload->>'executable')::boolean`)
      .orderBy('id')
      .execute()
  ).map((r) => r.id);
  if (techniques.length === 0 || innovations.length === 0) throw new Error('synthetic graph: seed the knowledge graph first (no technique or executable innovation nodes)');

  const c = sql.ref('c.idx');
  await sql`set session_replication_role = replica`.execute(db);
  await sql`set maintenance_work_mem = '256MB'`.execute(db);

  // The plan: evolutions until `candidates` is reached; the last one is cut short.
  await sql`create unlogged table bench_evolution as
    with plan as (
      select e, 8 + ${pick(sql`e`, 1, 25)} as p, 10 + ${pick(sql`e`, 2, 51)} as g
      from generate_series(1, ${sql.lit(Math.ceil(candidates / 80) + 1)}) e
    ), cum as (select e, p, g, sum(p * g) over (order by e) - p * g as first_idx from plan)
    select e, p, g, first_idx, least(p * g, ${sql.lit(candidates)} - first_idx)::int as size,
      'evo-' || lpad(e::text, 6, '0') as evolution_id,
      timestamptz '2026-01-01 00:00:00+00' + e * interval '3 hours' as started_at
    from cum where first_idx < ${sql.lit(candidates)}`.execute(db);
  step('plan');

  // One row per candidate with everything drawn for it: place, outcome, measurements.
  await sql`create unlogged table bench_candidate as
    with base as (
      select (be.first_idx + k)::int as idx, be.e, be.evolution_id, be.started_at, be.p, be.g, be.first_idx, k / be.p as gen
      from bench_evolution be, generate_series(0, be.size - 1) k
    ), drawn as (
      select c.*, ${u(c, 7)} as outcome, 18 + 70 * ${u(c, 8)} as gb from base c
    )
    select idx, e, evolution_id, p, first_idx, gen,
      'cand_' || md5('bench:' || idx) as cand_id,
      'candidate:cand_' || md5('bench:' || idx) as node_id,
      started_at + gen * interval '2 minutes' as created_at,
      case when outcome < 0.80 then 'evaluated' when outcome < 0.92 then 'rejected' else 'failed' end as status,
      case when outcome >= 0.92 then (${textArray(FAILURES)})[1 + ${pick(c, 10, FAILURES.length)}]
           when outcome >= 0.80 then (${textArray(VIOLATION_DRAW)})[1 + ${pick(c, 11, VIOLATION_DRAW.length)}] end as code,
      round(gb::numeric, 3)::float8 as gb,
      round((1.5 * exp(-(gb - 18) / 14) * (0.6 + 0.8 * ${u(c, 9)}) * (1 - 0.5 * gen / g) + 0.002)::numeric, 6)::float8 as kl
    from drawn c`.execute(db);
  step('candidates drawn');
  await sql`alter table bench_candidate add primary key (idx)`.execute(db);

  // Parents: one in the generation before, a second (for half) in one of the three before.
  await sql`create unlogged table bench_parent as
    select distinct c.idx, p.parent_idx from bench_candidate c
    cross join lateral (values
      (c.first_idx + (c.gen - 1) * c.p + ${pick(c, 3, sql`c.p`)}),
      (case when ${u(c, 4)} < 0.5 then c.first_idx + (c.gen - 1 - ${pick(c, 5, sql`least(3, c.gen)`)}) * c.p + ${pick(c, 6, sql`c.p`)} end)
    ) p(parent_idx)
    where c.gen > 0 and p.parent_idx is not null`.execute(db);
  await sql`create index on bench_parent (idx)`.execute(db);
  step('parents drawn');
  await sql`create unlogged table bench_parent_ids as
    select bp.idx, array_agg(pc.cand_id order by pc.cand_id) as parent_ids
    from bench_parent bp join bench_candidate pc on pc.idx = bp.parent_idx group by bp.idx`.execute(db);
  await sql`alter table bench_parent_ids add primary key (idx)`.execute(db);
  for (const t of ['bench_evolution', 'bench_candidate', 'bench_parent', 'bench_parent_ids']) await sql`analyze ${sql.table(t)}`.execute(db);
  step('parent ids');

  await sql`insert into evolution (id, config, status, created_at, updated_at)
    select evolution_id, jsonb_build_object('populationSize', p, 'generations', g), 'completed', started_at, started_at from bench_evolution`.execute(db);
  await sql`insert into generation (evolution_id, number, status, started_at, finished_at)
    select evolution_id, n, 'completed', started_at + n * interval '2 minutes', started_at + (n + 1) * interval '2 minutes'
    from bench_evolution, generate_series(0, (size - 1) / p) n`.execute(db);
  step('evolutions, generations');

  await sql`insert into candidate (id, evolution_id, generation, recipe, recipe_hash, parent_ids, status, violation_codes, created_at, updated_at)
    select c.cand_id, c.evolution_id, c.gen,
      jsonb_build_object('name', 'bench-' || c.idx, 'default', jsonb_build_object(
        'bits', 2 + c.idx % 7, 'groupSize', (array[32, 64, 128])[1 + c.idx % 3], 'method', jsonb_build_object('kind', (array['rtn', 'gptq', 'awq'])[1 + c.idx % 3]))),
      md5('recipe:' || c.idx) || md5('hash:' || c.idx),
      coalesce(pi.parent_ids, '{}'),
      case c.status when 'evaluated' then 'evaluated' when 'rejected' then 'rejected' else 'failed' end,
      case when c.status = 'rejected' then array[c.code] else '{}' end,
      c.created_at, c.created_at
    from bench_candidate c left join bench_parent_ids pi on pi.idx = c.idx`.execute(db);
  step('candidate rows');
  await sql`insert into result (candidate_id, metrics, recorded_at)
    select cand_id, jsonb_build_object('bits_per_byte', round((1.05 + 0.4 * kl)::numeric, 6), 'top1', round(greatest(0, 1 - 0.3 * kl)::numeric, 6), 'kl', kl,
      'proxy_bytes', (gb * 50000)::bigint, 'gb_per_gpu', gb, 'fits', gb <= 80,
      'baseline_top1', 0.62, 'relative_accuracy_loss', round(least(1, 0.3 * kl / 0.62)::numeric, 6), 'weight_reduction', round((1 - gb / 235)::numeric, 4),
      'decode_tokens_per_second', round((4000 / gb)::numeric, 1)), created_at + interval '1 minute'
    from bench_candidate where status = 'evaluated'`.execute(db);
  step('result rows');

  await sql`insert into ekg_node (id, kind, name, payload, created_at, updated_at)
    select node_id, 'candidate', 'bench-' || idx, case when status = 'evaluated'
      then jsonb_build_object('evolutionId', evolution_id, 'generation', gen, 'status', status, 'fits', gb <= 80, 'gbPerGpu', gb, 'kl', kl, 'top1', round(greatest(0, 1 - 0.3 * kl)::numeric, 6))
      else jsonb_build_object('evolutionId', evolution_id, 'generation', gen, 'status', status, 'fits', false, 'gbPerGpu', case when code = 'does-not-fit' then gb end) end,
      created_at, created_at
    from bench_candidate`.execute(db);
  await sql`insert into ekg_node (id, kind, name, payload)
    select 'discovery:' || code, 'discovery', code, jsonb_build_object('kind', case when code = any(${textArray(VIOLATIONS)}) then 'violation' else 'failure' end)
    from unnest(${textArray([...VIOLATIONS, ...FAILURES])}) code
    on conflict (id) do nothing`.execute(db);
  step('nodes');

  await sql`insert into ekg_edge (src, dst, kind, created_at)
    select c.node_id, pc.node_id, 'derived-from', c.created_at from bench_parent bp join bench_candidate c on c.idx = bp.idx join bench_candidate pc on pc.idx = bp.parent_idx`.execute(db);
  await sql`insert into ekg_edge (src, dst, kind, created_at)
    select node_id, (${textArray(innovations)})[1 + ${pick(sql.ref('idx'), 12, innovations.length)}], 'derived-from', created_at from bench_candidate where gen = 0`.execute(db);
  await sql`insert into ekg_edge (src, dst, kind, created_at)
    select node_id, (${textArray(techniques)})[1 + ${pick(sql.ref('idx'), 13, techniques.length)}], 'applies-pattern', created_at from bench_candidate where gen > 0`.execute(db);
  await sql`insert into ekg_edge (src, dst, kind, payload, created_at)
    select c.node_id, pc.node_id, 'improved-over', jsonb_build_object('klBefore', case when pc.status = 'evaluated' then pc.kl end, 'klAfter', c.kl), c.created_at
    from bench_parent bp join bench_candidate c on c.idx = bp.idx join bench_candidate pc on pc.idx = bp.parent_idx
    where c.status = 'evaluated' and c.gb <= 80 and (pc.status <> 'evaluated' or pc.gb > 80 or c.kl < pc.kl)`.execute(db);
  await sql`insert into ekg_edge (src, dst, kind, created_at)
    select node_id, 'discovery:' || code, 'failed-because', created_at from bench_candidate where code is not null`.execute(db);
  step('edges');

  const evolutions = await db.selectFrom(sql`bench_evolution`.as('be')).select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow();
  for (const t of ['bench_parent_ids', 'bench_parent', 'bench_candidate', 'bench_evolution']) await sql`drop table ${sql.table(t)}`.execute(db);
  await sql`set session_replication_role = origin`.execute(db);
  return { evolutions: Number(evolutions.n), candidates };
}

/** Every edge's ends exist and every result has its candidate: what the disabled foreign keys would have checked. */
export async function checkIntegrity(db: DbOrTrx): Promise<void> {
  const { rows } = await sql<{ dangling: string }>`
    select (select count(*) from ekg_edge e where not exists (select 1 from ekg_node n where n.id = e.src) or not exists (select 1 from ekg_node n where n.id = e.dst))
         + (select count(*) from result r where not exists (select 1 from candidate c where c.id = r.candidate_id))
         + (select count(*) from candidate c where not exists (select 1 from evolution e where e.id = c.evolution_id)) as dangling`.execute(db);
  if (Number(rows[0].dangling) !== 0) throw new Error(`synthetic graph: ${rows[0].dangling} rows reference missing rows`);
}
