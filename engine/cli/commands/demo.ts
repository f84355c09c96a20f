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
      if (flags.writeReadme === true) await writeDemoBlock(frontier, result.status.best?.id ?? null, seconds);
      emit(flags, result, () =>
        [
          frontier,
          '',
          'Everything stays inspectable (the stack keeps running; `evoquant down` stops it):',
          `  evoquant status ${result.evolutionId}`,
          `  evoquant history ${result.evolutionId} --generation 1`,
          ...(result.status.best ? [`  evoquant lineage ${result.status.best.id}`] : []),
          ...(result.webUi ? [`  Temporal Web UI: ${result.webUi}/namespaces/default/workflows/${encodeURIComponent(result.evolutionId)}`] : []),
        ].join('\n'),
      );
    });
}

/** The README's demo transcript: this run's frontier and its best candidate's lineage, as printed. */
async function writeDemoBlock(frontier: string, best: string | null, seconds: number): Promise<void> {
  const { resolveEndpoints, withDatabase } = await import('../../client/connection.js');
  const { formatLineageTree, lineageOf } = await import('../../client/lineage.js');
  const { writeReadmeBlocks } = await import('../../../scripts/readme-blocks.js');
  const body = [`What the demo printed on a ${availableParallelism()}-core machine (${seconds} s, stack start included):`, '', '```', frontier, '```'];
  if (best !== null) {
    const lineage = await withDatabase(resolveEndpoints(), (db) => lineageOf(db, best));
    body.push('', `Then \`evoquant lineage ${best}\` shows where the best candidate came from:`, '', '```', ...formatLineageTree(lineage.tree), '```');
  }
  writeReadmeBlocks([{ name: 'demo', command: 'npm run demo -- --write-readme', body: body.join('\n') }]);
}
