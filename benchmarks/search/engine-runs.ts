// The engine's methods (graph-guided and graph-ablated agents) driven as a user drives evoquant:
// `evoquant up` on a state dir of the benchmark's own, a control worker and a CPU pool worker,
// `evoquant start --config`, `evoquant status --follow` until it closes; then its evaluated
// candidates are read from Postgres in the order their results were recorded, and `evoquant down`.
// Every (method, seed) gets a fresh stack: the engine carries what one evolution learns into the
// next (the patterns' statistics in the graph), so runs sharing a database would not be independent
// samples, and a later seed would start from what earlier ones of both methods found. The two
// methods differ only in EvolutionConfig.agents.guidance. Caches that change no result (the
// workflow bundle, the proxy's sensitivity profile) are carried from one state dir to the next.
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { resolveEndpoints, withDatabase } from '../../engine/client/connection.js';
import { ResultMetrics, type Database } from '../../schema/db.js';
import type { AgentGuidance } from '../../schema/agents.js';
import { EvolutionConfig, type EvolutionConfigInput } from '../../schema/evolution-config.js';
import { CliWorker, evoquant, stateDirEnv } from './cli-process.js';
import { onInterrupt } from './interrupt.js';
import { EVALUATION, POPULATION_SIZE, PROXY, SEED_RECIPES, TARGET } from './setting.js';
import type { RunTrace, TracePoint } from './trace.js';

export function engineConfig(guidance: AgentGuidance, seed: number, budget: number): EvolutionConfig {
  const input: EvolutionConfigInput = {
    // The same name (hence evolution id, hence candidate ids and their tie-breaks) for both methods
    // of a seed: a paired comparison, in which the guidance is the only difference. Each run has a
    // stack of its own, so the name never collides.
    name: `bench-search-s${seed}`,
    target: TARGET,
    pool: 'cpu',
    proxy: PROXY,
    // maxCandidates ends the run; the generation cap only bounds a run whose children compile keeps refusing.
    generations: budget * 3,
    populationSize: POPULATION_SIZE,
    seed,
    seedRecipes: [...SEED_RECIPES],
    selection: 'pareto',
    // No discoveries: measuring the manual recipes after a run would cost time the benchmark does not count.
    agents: { guidance, chainLength: 6, discoveries: false },
    // A loaded 2-core machine can starve a heartbeat for a while: no retry for that.
    evaluation: { ...EVALUATION, heartbeatSeconds: 120, maxAttempts: 2 },
    maxCandidates: budget,
  };
  return EvolutionConfig.parse(input);
}

/** An evolution's evaluations in the order their results were recorded (failed ones when they failed). */
export async function evaluationsInOrder(db: Kysely<Database>, evolutionId: string, baselineBitsPerByte: number): Promise<{ points: TracePoint[]; rejected: number }> {
  const rows = await db
    .selectFrom('candidate')
    .leftJoin('result', 'result.candidate_id', 'candidate.id')
    .select(['candidate.id', 'candidate.recipe', 'candidate.recipe_hash', 'candidate.status', 'candidate.violation_codes', 'result.metrics'])
    .select(sql<Date>`coalesce(result.recorded_at, candidate.updated_at)`.as('at'))
    .where('candidate.evolution_id', '=', evolutionId)
    .orderBy('at')
    .orderBy('candidate.id')
    .execute();
  const points: TracePoint[] = [];
  let rejected = 0;
  for (const r of rows) {
    if (r.status === 'rejected') rejected++;
    if (r.status !== 'evaluated' && r.status !== 'failed' && r.status !== 'infeasible') continue;
    const m = r.metrics === null ? null : ResultMetrics.parse(r.metrics);
    // Compile passed it (no violation at all), so it is servable; fits is what compile measured.
    const feasible = r.status === 'evaluated' && m !== null && m.fits && r.violation_codes.length === 0;
    const name = typeof r.recipe.name === 'string' ? r.recipe.name : r.id;
    points.push({ index: points.length + 1, recipeName: name, policyHash: r.recipe_hash, feasible, deltaBitsPerByte: feasible ? m.bits_per_byte - baselineBitsPerByte : null, gbPerGpu: m?.gb_per_gpu ?? null });
  }
  return { points, rejected };
}

/** One engine run on a stack of its own, started and stopped here; its state dir is removed after. */
export async function engineRun(guidance: AgentGuidance, seed: number, budget: number, baselineBitsPerByte: number, cacheDir: string, log: (line: string) => void): Promise<RunTrace> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'evoquant-bench-search-'));
  // Postgres runs as the `postgres` user when this runs as root: it must reach its data dir below.
  chmodSync(dir, 0o755);
  if (existsSync(cacheDir)) cpSync(cacheDir, join(dir, 'cache'), { recursive: true });
  const env = stateDirEnv(dir);
  const workers: CliWorker[] = [];
  let up = false;
  let tornDown: Promise<void> | null = null;
  // Once, whoever asks first (the run's end or an interruption); both wait for the same teardown.
  const teardown = (): Promise<void> => (tornDown ??= stop());
  const stop = async (): Promise<void> => {
    for (const w of workers.reverse()) await w.stop().catch((err: unknown) => log(`  stopping worker ${w.name}: ${String(err)}`));
    if (up) await evoquant(['down'], env).catch((err: unknown) => log(`  evoquant down: ${String(err)}`));
    if (existsSync(join(dir, 'cache'))) cpSync(join(dir, 'cache'), cacheDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  const unregister = onInterrupt(teardown);
  try {
    // Marked up before the command returns: an interrupted `up` may have started services.
    up = true;
    await evoquant(['up', '--json'], env);
    workers.push(await CliWorker.start(['control', '--identity', 'bench-search-control'], env));
    workers.push(await CliWorker.start(['gpu', '--device-class', 'cpu', '--slots', '1', '--identity', 'bench-search-cpu'], env));
    const config = engineConfig(guidance, seed, budget);
    const file = join(dir, `${config.name}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    await evoquant(['start', '--config', file, '--id', config.name], env);
    const last = (await evoquant(['status', config.name, '--follow', '--json', '--interval', '2'], env, 3 * 3600_000)).trim().split('\n').pop() ?? '';
    const report = JSON.parse(last) as { workflowStatus?: string; failure?: string | null };
    if (report.workflowStatus !== 'COMPLETED') throw new Error(`evolution ${config.name} ended ${report.workflowStatus ?? 'without a status'}: ${report.failure ?? ''}`);
    const { points, rejected } = await withDatabase(resolveEndpoints({ env }), (db) => evaluationsInOrder(db, config.name, baselineBitsPerByte));
    return { method: guidance, seed, evaluations: points.slice(0, budget), rejected, seconds: (performance.now() - started) / 1000, evolutionId: config.name };
  } finally {
    unregister();
    await teardown();
  }
}
