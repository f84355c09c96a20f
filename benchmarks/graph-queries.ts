// Knowledge-graph query benchmark (a script, not a timed test): lineage, descendants, derivation
// path, evolution frontier and subgraph on synthetic graphs of 100,000 and 1,000,000 nodes in an
// embedded Postgres (state in a temp dir, removed afterwards). p50 / p99 / max per query per size.
//   npm run bench:graph [-- --sizes 100000[,1000000]] [-- --runs 200] [-- --json] [-- --write-readme]
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { createDb } from '../engine/db/connection.js';
import { descendants, lineage } from '../engine/db/ekg.js';
import { evolutionFrontier, subgraph } from '../engine/db/ekg-queries.js';
import { migrateToLatest } from '../engine/db/migrate.js';
import { removeRelocatedPostgres } from '../engine/stack/postgres-placement.js';
import { startPostgres, type PostgresService } from '../engine/stack/postgres.js';
import { derivationPath } from '../evolution/knowledge/derivation-path.js';
import { seedKnowledgeGraph } from '../evolution/knowledge/seed-innovations.js';
import { writeReadmeBlocks } from '../scripts/readme-blocks.js';
import type { Database } from '../schema/db.js';
import { GRAPH_QUERIES_BLOCK, GRAPH_QUERIES_COMMAND, graphQueriesReadme } from './graph/readme.js';
import type { GraphBenchResult, QueryTiming, SizeResult } from './graph/result.js';
import { checkIntegrity, loadSyntheticGraph } from './graph/synthetic-graph.js';

const USAGE = 'usage: npm run bench:graph [-- --sizes N[,N…]] [--runs N] [--json] [--write-readme]';
const SEED = 20261130;
const WARMUP = 20;
const SUBGRAPH = { hops: 2, limit: 500 } as const;

interface Args {
  sizes: number[];
  runs: number;
  json: boolean;
  writeReadme: boolean;
}

function fail(message: string): never {
  console.error(`bench:graph: ${message} (${USAGE})`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { sizes: [100_000, 1_000_000], runs: 200, json: false, writeReadme: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => argv[++i] ?? fail(`${a} needs a value`);
    if (a === '--json') args.json = true;
    else if (a === '--write-readme') args.writeReadme = true;
    else if (a === '--sizes') {
      const raw = value();
      args.sizes = raw.split(',').map((s) => {
        const n = Number(s.replace(/_/g, ''));
        if (!Number.isInteger(n) || n < 1_000 || n > 5_000_000) fail(`--sizes: ${JSON.stringify(s)} is not a whole number of nodes in [1000, 5000000]`);
        return n;
      });
    } else if (a === '--runs') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 100_000) fail('--runs must be a whole number in [1, 100000]');
      args.runs = n;
    } else fail(`unknown argument ${a}`);
  }
  return args;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Runs `f` on every draw; the first `WARMUP` runs are not recorded. `f` returns the rows it got. */
async function time<T>(query: string, start: string, draws: readonly T[], f: (x: T) => Promise<number>): Promise<QueryTiming> {
  const times: number[] = [];
  const rows: number[] = [];
  for (const [i, x] of draws.entries()) {
    const t0 = performance.now();
    const n = await f(x);
    const dt = performance.now() - t0;
    if (i >= WARMUP) {
      times.push(dt);
      rows.push(n);
    }
  }
  times.sort((a, b) => a - b);
  rows.sort((a, b) => a - b);
  const timing = { query, start, runs: times.length, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), maxMs: times[times.length - 1], medianRows: percentile(rows, 50), maxRows: rows[rows.length - 1] };
  progress(`  ${query}: p50 ${timing.p50Ms.toFixed(1)} ms, p99 ${timing.p99Ms.toFixed(1)} ms, max ${timing.maxMs.toFixed(1)} ms`);
  return timing;
}

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const pickFrom = <T>(rng: RandomGenerator, xs: readonly T[]): T => xs[uniformInt(rng, 0, xs.length - 1)];

interface Evolution {
  id: string;
  lastGeneration: number;
}

/** A candidate node of `evolution` in `generation`, drawn from its ids. */
async function candidateIn(db: Kysely<Database>, rng: RandomGenerator, evolution: string, generation: number): Promise<string> {
  const ids = await db.selectFrom('candidate').select('id').where('evolution_id', '=', evolution).where('generation', '=', generation).orderBy('id').execute();
  return `candidate:${pickFrom(rng, ids).id}`;
}

async function benchSize(service: PostgresService, targetNodes: number, runs: number): Promise<SizeResult> {
  const began = performance.now();
  const name = `graph_bench_${targetNodes}`;
  const db = createDb(await service.createDatabase(name), { max: 2, applicationName: 'bench:graph' });
  try {
    progress(`${targetNodes.toLocaleString('en-US')} nodes: loading`);
    let t = performance.now();
    await migrateToLatest(db);
    await seedKnowledgeGraph(db);
    const seeded = Number((await db.selectFrom('ekg_node').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    // The failure and violation nodes the loader adds (8) count towards the target too.
    const loaded = await loadSyntheticGraph(db, targetNodes - seeded - 8);
    const loadSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    // What autovacuum would have done by the time anyone queries: statistics and the visibility map.
    await sql`vacuum (analyze)`.execute(db);
    await checkIntegrity(db);
    const analyzeSeconds = (performance.now() - t) / 1000;
    const { rows: counts } = await sql<{ nodes: string; edges: string; results: string; bytes: string }>`
      select (select count(*) from ekg_node) as nodes, (select count(*) from ekg_edge) as edges,
             (select count(*) from result) as results, pg_database_size(current_database()) as bytes`.execute(db);
    const graph = { ...loaded, nodes: Number(counts[0].nodes), edges: Number(counts[0].edges), results: Number(counts[0].results), loadSeconds, analyzeSeconds };
    progress(`  ${graph.nodes} nodes, ${graph.edges} edges in ${loadSeconds.toFixed(1)} s (+ ${analyzeSeconds.toFixed(1)} s vacuum, analyze, integrity check)`);

    // Start nodes, drawn before any timing with one seeded generator per size.
    const rng = xoroshiro128plus(SEED + targetNodes);
    const n = WARMUP + runs;
    const evolutions: Evolution[] = (
      await db.selectFrom('candidate').select(['evolution_id as id', (eb) => eb.fn.max<number>('generation').as('lastGeneration')]).groupBy('evolution_id').orderBy('evolution_id').execute()
    ).filter((e) => e.lastGeneration >= 3);
    const deep: string[] = [];
    const early: string[] = [];
    const frontierOf: string[] = [];
    for (let i = 0; i < n; i++) {
      const e = pickFrom(rng, evolutions);
      deep.push(await candidateIn(db, rng, e.id, e.lastGeneration));
      const f = pickFrom(rng, evolutions);
      early.push(await candidateIn(db, rng, f.id, uniformInt(rng, 0, 2)));
      frontierOf.push(pickFrom(rng, evolutions).id);
    }
    const pairs: Array<[string, string]> = [];
    for (const d of deep) {
      const ancestors = (await lineage(db, d, { kinds: ['derived-from'] })).filter((a) => a.kind === 'candidate' || a.kind === 'innovation');
      pairs.push([d, pickFrom(rng, ancestors).id]);
    }
    const seedPool = (await db.selectFrom('ekg_node').select('id').where('kind', 'in', ['innovation', 'technique']).orderBy('id').execute()).map((r) => r.id);
    const seeds: string[][] = [];
    for (let i = 0; i < n; i++) {
      const chosen = new Set<string>();
      while (chosen.size < 3) chosen.add(pickFrom(rng, seedPool));
      seeds.push([...chosen]);
    }

    progress('  timing');
    const queries = [
      await time('lineage', 'a last-generation candidate', deep, async (id) => (await lineage(db, id)).length),
      await time('descendants', 'a candidate of generation 0–2', early, async (id) => (await descendants(db, id)).length),
      await time('derivation path', 'a last-generation candidate to one of its ancestors', pairs, async ([a, b]) => (await derivationPath(db, a, b))?.steps.length ?? 0),
      await time('evolution frontier', 'an evolution', frontierOf, async (id) => (await evolutionFrontier(db, id)).length),
      await time(`subgraph, ${SUBGRAPH.hops} hops, ≤ ${SUBGRAPH.limit} nodes`, '3 innovation or technique nodes', seeds, async (s) => (await subgraph(db, s, SUBGRAPH)).nodes.length),
    ];
    return { targetNodes, graph, databaseBytes: Number(counts[0].bytes), queries, totalSeconds: (performance.now() - began) / 1000 };
  } finally {
    await db.destroy();
    await service.dropDatabase(name);
  }
}

const args = parseArgs(process.argv.slice(2));
const began = performance.now();
const loadStart = loadavg()[0];
// Mode 0755: as root, Postgres runs as the `postgres` user and must reach its data dir below this one.
const stateDir = mkdtempSync(path.join(tmpdir(), 'evoquant-graph-bench-'));
chmodSync(stateDir, 0o755);
const cleanUp = (): void => {
  removeRelocatedPostgres(stateDir);
  rmSync(stateDir, { recursive: true, force: true, maxRetries: 3 });
};
let service: PostgresService | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void (service?.stop('immediate') ?? Promise.resolve()).finally(() => {
      cleanUp();
      process.exit(130);
    });
  });
}
try {
  // The embedded server even when DATABASE_URL is set: the benchmark creates and drops databases.
  service = await startPostgres({ stateDir, env: {}, durable: false, database: 'graph_bench' });
  const version = await (async () => {
    const db = createDb(service.url, { max: 1 });
    try {
      const { rows } = await sql<{ v: string }>`select current_setting('server_version') as v`.execute(db);
      return `PostgreSQL ${rows[0].v}`;
    } finally {
      await db.destroy();
    }
  })();
  const sizes: SizeResult[] = [];
  for (const size of args.sizes) sizes.push(await benchSize(service, size, args.runs));
  const result: GraphBenchResult = {
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model.trim() ?? 'unknown CPU', loadStart, loadEnd: loadavg()[0], postgres: version },
    warmup: WARMUP,
    runs: args.runs,
    seed: SEED,
    sizes,
    totalSeconds: (performance.now() - began) / 1000,
  };
  const body = graphQueriesReadme(result);
  if (args.writeReadme) writeReadmeBlocks([{ name: GRAPH_QUERIES_BLOCK, command: GRAPH_QUERIES_COMMAND, body }]);
  console.log(args.json ? JSON.stringify(result, null, 2) : body);
} finally {
  await service?.stop();
  cleanUp();
}
