// npm run report:targets [-- --write-readme]: evolves recipes for Qwen3-235B-A22B on one and on two
// A100-80GB (vLLM, 4k context) with the graph-guided agents on the embedded stack (left running, as
// the demo leaves it), then reports for each target the best manual servable recipe that fits and the
// best discovery, as measured on the proxy, and whether the aims were reached.
import { availableParallelism } from 'node:os';
import { resolveEndpoints, withDatabase } from '../../engine/client/connection.js';
import { runOnEmbeddedStack } from '../../engine/cli/demo/run-demo.js';
import { listReferences } from '../../engine/db/references.js';
import { listDiscoveries } from '../../evolution/knowledge/discoveries.js';
import { compileTarget } from '../../science/physics/compile.js';
import { EvolutionConfig, type EvolutionConfigInput } from '../../schema/evolution-config.js';
import { Recipe } from '../../schema/recipe.js';
import { writeReadmeBlocks } from '../../scripts/readme-blocks.js';
import { targetsMarkdown, type MeasuredRecipe, type TargetOutcome } from './report.js';

const TARGETS = [
  { id: 'qwen3-235b-1xa100', label: 'Qwen3-235B-A22B, 1×A100-80GB', gpus: 1, seeds: ['w2a16-g64-rtn', 'w4a16-g128-rtn', 'moe-layers-sensitive4-rest2'] },
  { id: 'qwen3-235b-2xa100', label: 'Qwen3-235B-A22B, 2×A100-80GB TP2', gpus: 2, seeds: ['w4a16-g128-rtn', 'moe-layers-sensitive4-rest3', 'w2a16-g64-rtn'] },
] as const;

const GENERATIONS = 5;
const POPULATION = 4;
const EVALUATION = { tokens: 4096, calibrationTokens: 2048 } as const;

function configFor(t: (typeof TARGETS)[number]): EvolutionConfig {
  const input: EvolutionConfigInput = {
    name: `targets-${t.id}`,
    target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: t.gpus, tensorParallel: t.gpus, context: 4096, batch: 1, stack: 'vllm' },
    pool: 'cpu',
    proxy: 'artifacts/proxy',
    generations: GENERATIONS,
    populationSize: POPULATION,
    seed: 7,
    seedRecipes: [...t.seeds],
    evaluation: { ...EVALUATION, heartbeatSeconds: 60, maxAttempts: 3 },
    agents: { guidance: 'graph', discoveries: true },
  };
  return EvolutionConfig.parse(input);
}

async function outcomeOf(t: (typeof TARGETS)[number], config: EvolutionConfig, evolutionId: string, evaluated: number): Promise<{ outcome: TargetOutcome; discoveries: MeasuredRecipe[] }> {
  const compileOn = (recipe: Recipe) => compileTarget({ model: config.target.model, hardware: config.target.hardware, gpus: config.target.gpus, tensorParallel: config.target.gpus, contextLength: config.target.context, batch: config.target.batch, stack: config.target.stack }, recipe);
  const measured = (name: string, recipe: Recipe, m: { gb_per_gpu: number; top1: number; bits_per_byte: number }): MeasuredRecipe => {
    const report = compileOn(recipe);
    return { name, gbPerGpu: m.gb_per_gpu, weightFraction: report.weightBytes.total / report.weightBytes.bf16Total, top1: m.top1, bitsPerByte: m.bits_per_byte };
  };
  return withDatabase(resolveEndpoints(), async (db) => {
    const refs = await listReferences(db, evolutionId);
    const bf16 = refs.find((r) => r.name === 'bf16');
    if (!bf16) throw new Error(`evolution ${evolutionId} measured no bf16 reference`);
    const manual = refs.filter((r) => r.metrics.fits).map((r) => measured(r.name, Recipe.parse(r.recipe), r.metrics));
    const found = (await listDiscoveries(db, { evolutionId })).map(({ card }) => ({ name: card.name, gbPerGpu: card.measured.gbPerGpu, weightFraction: 0, top1: card.measured.top1, bitsPerByte: card.measured.bitsPerByte, genes: card.genes }));
    const discoveries = found.map((d) => ({ ...measured(d.name, d.genes, { gb_per_gpu: d.gbPerGpu, top1: d.top1, bits_per_byte: d.bitsPerByte }) }));
    const best = (xs: MeasuredRecipe[]) => [...xs].sort((a, b) => a.bitsPerByte - b.bitsPerByte || a.gbPerGpu - b.gbPerGpu)[0] ?? null;
    return {
      outcome: { id: t.id, label: t.label, evolutionId, bf16: { top1: bf16.metrics.top1, bitsPerByte: bf16.metrics.bits_per_byte }, bestManual: best(manual), bestDiscovery: best(discoveries), discoveries: discoveries.length, evaluated },
      discoveries,
    };
  });
}

const began = Date.now();
const results = [];
for (const t of TARGETS) {
  const config = configFor(t);
  const run = await runOnEmbeddedStack(config, `target ${t.label}, pool cpu`);
  results.push(await outcomeOf(t, config, run.evolutionId, run.status.counts.evaluated));
}
const minutes = ((Date.now() - began) / 60_000).toFixed(0);
const setting = `One graph-guided evolution per target (vLLM, 4k context; ${GENERATIONS} generations × ${POPULATION} children, seed 7; ${EVALUATION.tokens} held-out bytes and ${EVALUATION.calibrationTokens} calibration tokens per candidate on the proxy), then the manual recipes measured the same way; ${minutes} min on a ${availableParallelism()}-core machine. Relative top-1 loss and Δ bits/byte are against bf16 on the proxy; memory and weights are compile's for the target.`;
const markdown = targetsMarkdown(results, setting);
process.stdout.write(`${markdown}\n`);
if (process.argv.includes('--write-readme')) writeReadmeBlocks([{ name: 'targets', command: 'npm run report:targets -- --write-readme', body: markdown }]);
