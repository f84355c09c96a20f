// evoquant demo: the main job on embedded defaults (see demo/run-demo.ts).
import type { Command } from 'commander';
import { emit } from '../output.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start the embedded stack and workers, evolve recipes for Qwen3-235B-A22B on 2×A100-80GB, print the frontier')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const { formatFrontier, runDemo } = await import('../demo/run-demo.js');
      const result = await runDemo();
      emit(flags, result, () =>
        [
          formatFrontier(result.status),
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
