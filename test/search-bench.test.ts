// The search benchmark's pure parts: its gene space (every drawn point is servable on vLLM once
// moved onto the stack, as the proposer's children are), the summary it reports, and the README
// block it wrote (rendered from the committed traces, so it cannot be edited by hand).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { z } from 'zod';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { compileVerdict } from '../activities/compile-verdict.js';
import { GENE_NAMES, GENES, GenesSchema, geneSpaceJson, geneSpaceSize, recipeOfGenes, sampleGenes, servablePoint } from '../benchmarks/search/gene-space.js';
import { TARGET } from '../benchmarks/search/setting.js';
import { PLOT_PATH, RESULTS_PATH, SEARCH_BLOCK, searchReadme, type BenchRun } from '../benchmarks/search/readme.js';
import { summarize, type BenchSummary } from '../benchmarks/search/summary.js';
import { RunTrace } from '../benchmarks/search/trace.js';
import { repoRoot } from '../engine/stack/paths.js';
import { README_PATH, readBlock } from '../scripts/readme-blocks.js';

test('the exported space is the one random search samples from, and the schema takes exactly its points', (t) => {
  const json = geneSpaceJson();
  t.deepEqual(json.genes.map((g) => g.name), GENE_NAMES);
  for (const g of json.genes) t.deepEqual(g.choices, GENES[g.name]);
  t.is(geneSpaceSize(), json.genes.reduce((n, g) => n * g.choices.length, 1));
  const rng = xoroshiro128plus(3);
  const g = sampleGenes(rng);
  t.true(GenesSchema.safeParse(g).success);
  t.false(GenesSchema.safeParse({ ...g, bits: 5 }).success);
  t.false(GenesSchema.safeParse({ ...g, bits: '2' }).success, 'numbers stay numbers');
  t.false(GenesSchema.safeParse({ ...g, extra: 1 }).success);
  // Seeded: the same seed draws the same points.
  t.deepEqual(sampleGenes(xoroshiro128plus(3)), g);
});

test('genes map onto the recipe fields they name', (t) => {
  const base = { bits: 2, groupSize: '64', method: 'awq', attention: 'default', hotLayers: '0.25', hotBits: 4, edgeLayers: 'yes', kvCacheBits: 8, attentionRotation: 'no' } as const;
  const r = recipeOfGenes(base);
  t.is(r.default.bits, 2);
  t.is(r.default.groupSize, 64);
  t.is(r.default.method.kind, 'awq');
  t.is(r.roles.attn_o?.method?.kind, 'rtn', 'AWQ cannot fold into attn_o under grouped KV heads');
  t.is(r.kvCache?.keys.format, 'fp8_e4m3');
  t.is(r.kvCache?.values.format, 'fp8_e4m3');
  t.is(recipeOfGenes({ ...base, kvCacheBits: 16 }).kvCache, undefined, 'a bf16 cache is no kvCache gene');
  t.is(r.depth.length, 2);
  t.deepEqual(r.expertLayers?.tiers, [{ below: 0.25, override: { bits: 4, groupSize: 128 } }]);
  // A hot tier no wider than the default is no tier.
  t.is(recipeOfGenes({ ...base, bits: 4, hotBits: 3 }).expertLayers, undefined);
});

test('every drawn point, moved onto vLLM, breaks no stack or kernel rule on the target (only fit may fail)', (t) => {
  const rng = xoroshiro128plus(11);
  let fits = 0;
  for (let i = 0; i < 40; i++) {
    const recipe = servablePoint(sampleGenes(rng));
    if (recipe === null) continue;
    const v = compileVerdict({ candidate: { id: `p${i}`, generation: 0, recipe, parents: [], technique: null }, target: TARGET });
    t.deepEqual(v.violations.filter((c) => c !== 'does-not-fit'), [], recipe.description);
    if (v.fits) fits++;
  }
  // The hard regime: some points fit one A100, most do not.
  t.true(fits > 0 && fits < 40, `${fits} of 40 fit`);
});

const trace = (method: string, seed: number, deltas: Array<number | null>, rejected = 0): RunTrace => ({
  method,
  seed,
  evaluations: deltas.map((d, i) => ({ index: i + 1, recipeName: `${method}${seed}-${i}`, policyHash: `${method}${seed}-${i}`, feasible: d !== null, deltaBitsPerByte: d, gbPerGpu: 70 + i })),
  rejected,
  seconds: 1,
});

test('summary: global best, threshold, not-reached runs and one hypervolume box for every method', (t) => {
  const s = summarize(
    [trace('a', 1, [0.3, 0.2, 0.1]), trace('a', 2, [0.3, null, 0.25]), trace('b', 1, [null, null, null], 7), trace('b', 2, [0.5, 0.109, 0.4])],
    ['a', 'b'],
    3,
    85,
  );
  t.deepEqual(s.globalBest, { delta: 0.1, method: 'a', seed: 1, recipeName: 'a1-2' });
  t.true(Math.abs(s.threshold! - 0.11) < 1e-12);
  t.is(s.reference.memory, 85);
  t.true(Math.abs(s.reference.loss - 0.55) < 1e-12);
  const [a, b] = s.methods;
  t.is(a.best?.median, 0.175);
  t.is(a.reached, 1);
  t.deepEqual([a.toWithin?.min, a.toWithin?.max], [3, 4]);
  t.is(b.noFeasible, 1);
  t.is(b.reached, 1);
  t.is(b.toWithin?.min, 2);
  t.is(b.hypervolume?.min, 0, 'a run with no feasible point dominates nothing');
  t.is(b.rejected?.max, 7);
  t.deepEqual(a.curves[1], [0.3, 0.3, 0.25]);
});

test('the README block is what the committed results render, and their summary is what their traces give', (t) => {
  const committed = z
    .object({ run: z.custom<BenchRun>(), summary: z.custom<BenchSummary>(), traces: z.array(RunTrace) })
    .parse(JSON.parse(readFileSync(join(repoRoot, RESULTS_PATH), 'utf8')));
  const { run, summary, traces } = committed;
  const again = summarize(traces, summary.methods.map((m) => m.method), run.budget, run.capacityGb);
  t.deepEqual(JSON.parse(JSON.stringify(again)), summary);
  t.is(readBlock(readFileSync(README_PATH, 'utf8'), SEARCH_BLOCK), searchReadme(summary, run).trim());
  t.true(existsSync(join(repoRoot, PLOT_PATH)), 'the plot the block links to is committed');
  t.true(run.seeds.length >= 5 && summary.methods.every((m) => m.runs === run.seeds.length), 'every method ran every seed');
});
