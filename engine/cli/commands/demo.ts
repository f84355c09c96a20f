// evoquant demo: the main job on embedded defaults (see demo/run-demo.ts).
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { emit } from '../output.js';

interface DemoFlags {
  json?: boolean;
  writeReadme?: boolean;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start the embedded stack and workers, evolve recipes for Qwen3-235B-A22B on 2×A100-80GB, print the frontier')
    .option('--json', 'print JSON')
    .option('--write-readme', "rewrite README.md's generated demo block with what this run printed")
    .action(async (flags: DemoFlags) => {
      const { formatFrontier, runDemo } = await import('../demo/run-demo.js');
      const began = Date.now();
      const result = await runDemo();
      const seconds = Math.round((Date.now() - began) / 1000);
      const frontier = formatFrontier(result.status);
      const reasoning = await reasoningReport(result.evolutionId, result.status.best?.id ?? null);
      if (flags.writeReadme === true) await writeDemoBlock(frontier, reasoning, result.status.best?.id ?? null, seconds);
      emit(flags, result, () =>
        [
          frontier,
          '',
          ...reasoning,
          '',
          'Everything stays inspectable (the stack keeps running; `evoquant down` stops it):',
          `  evoquant status ${result.evolutionId}`,
          `  evoquant history ${result.evolutionId} --generation 1`,
          ...(result.status.best ? [`  evoquant explain ${result.status.best.id}`, `  evoquant lineage ${result.status.best.id}`] : []),
          `  evoquant discoveries --id ${result.evolutionId}`,
          ...(result.webUi ? [`  Temporal Web UI: ${result.webUi}/namespaces/default/workflows/${encodeURIComponent(result.evolutionId)}`] : []),
        ].join('\n'),
      );
    });
}

/** The evolution's discoveries and the chain of thought behind its best candidate, from Postgres. */
async function reasoningReport(evolutionId: string, best: string | null): Promise<string[]> {
  const { resolveEndpoints, withDatabase } = await import('../../client/connection.js');
  const { explainCandidate, formatExplanation } = await import('../../client/explain.js');
  const { listDiscoveries } = await import('../../../evolution/knowledge/discoveries.js');
  return withDatabase(resolveEndpoints(), async (db) => {
    const found = await listDiscoveries(db, { evolutionId });
    const lines = found.length === 0 ? ['discoveries: none (no evolved candidate beat every builtin and seed innovation that fits)'] : ['discoveries (evolved recipes that beat every builtin and seed innovation that fits):', ...found.map(({ card }) => `  ${card.name}: ${card.measured.gbPerGpu.toFixed(1)} GB/GPU, KL ${card.measured.kl.toExponential(2)}`)];
    if (best !== null) lines.push('', `why the best candidate exists (evoquant explain ${best}):`, ...formatExplanation(await explainCandidate(db, best)));
    return lines;
  });
}

/** The README's demo transcript: this run's frontier, discoveries and its best candidate's reasoning and lineage, as printed. */
async function writeDemoBlock(frontier: string, reasoning: readonly string[], best: string | null, seconds: number): Promise<void> {
  const { resolveEndpoints, withDatabase } = await import('../../client/connection.js');
  const { formatLineageTree, lineageOf } = await import('../../client/lineage.js');
  const { writeReadmeBlocks } = await import('../../../scripts/readme-blocks.js');
  const body = [`What the demo printed on a ${availableParallelism()}-core machine (${seconds} s, stack start included):`, '', '```', frontier, '', ...reasoning, '```'];
  if (best !== null) {
    // Its genealogy and the reasoning behind it; the innovations' own ancestry is `evoquant lineage innovation:…`.
    const kinds = ['derived-from', 'improved-over', 'failed-because', 'reasoned-by'] as const;
    const lineage = await withDatabase(resolveEndpoints(), (db) => lineageOf(db, best, { kinds }));
    body.push('', `Then \`evoquant lineage ${best} --kinds ${kinds.join(',')}\` shows where the best candidate came from:`, '', '```', ...formatLineageTree(lineage.tree), '```');
  }
  writeReadmeBlocks([{ name: 'demo', command: 'npm run demo -- --write-readme', body: body.join('\n') }]);
}
