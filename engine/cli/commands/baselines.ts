// evoquant baselines: the README's baselines table, measured on the committed proxy.
import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { existingDir, positiveInt } from '../args.js';
import { emit, endProgress, progressLine } from '../output.js';

const DEFAULT_PROXY = fileURLToPath(new URL('../../../artifacts/proxy', import.meta.url));

interface BaselineFlags {
  model: string;
  tokens?: number;
  json?: boolean;
}

export function registerBaselines(program: Command): void {
  program
    .command('baselines')
    .description('measure RTN/GPTQ/AWQ and the mixed MoE recipes on the proxy, with their Qwen3-235B-A22B cost on 2×A100-80GB')
    .option('--model <dir>', 'proxy model directory', DEFAULT_PROXY)
    .option('--tokens <n>', 'held-out bytes per evaluation (default 32768)', positiveInt('--tokens'))
    .option('--json', 'print JSON')
    .action(async (flags: BaselineFlags) => {
      const { baselineTable, markdownTable } = await import('../../../science/baselines/table.js');
      const { cacheDir } = await import('../../client/paths.js');
      existingDir('--model', flags.model);
      const rows = await baselineTable(flags.model, {
        tokens: flags.tokens,
        sensitivityCacheDir: cacheDir(),
        onProgress: (stage, d, t) => progressLine(`${stage} ${d}/${t}`),
        onRow: (r) => progressLine(`measured ${r.recipe}`),
      });
      endProgress();
      emit(flags, rows, () => markdownTable(rows));
    });
}
