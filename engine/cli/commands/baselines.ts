// evoquant baselines: the README's baselines table, measured on the committed proxy.
import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { existingDir, positiveInt } from '../args.js';
import { emit, endProgress, progressLine } from '../output.js';
import type { BaselineRow } from '../../../science/baselines/table.js';

const DEFAULT_PROXY = fileURLToPath(new URL('../../../artifacts/proxy', import.meta.url));

interface BaselineFlags {
  model: string;
  tokens?: number;
  json?: boolean;
  writeReadme?: boolean;
}

async function writeReadme(rows: BaselineRow[]): Promise<void> {
  const { writeReadmeBlocks } = await import('../../../scripts/readme-blocks.js');
  const { BASELINES_BLOCK, BASELINES_COMMAND, WEIGHT_MEMORY_BLOCK, baselinesReadme } = await import('../../../science/baselines/readme.js');
  const { weightMemoryReadme } = await import('../../../science/baselines/weight-memory.js');
  writeReadmeBlocks([
    { name: BASELINES_BLOCK, command: BASELINES_COMMAND, body: baselinesReadme(rows) },
    { name: WEIGHT_MEMORY_BLOCK, command: BASELINES_COMMAND, body: weightMemoryReadme() },
  ]);
}

export function registerBaselines(program: Command): void {
  program
    .command('baselines')
    .description('measure RTN/GPTQ/AWQ and the mixed MoE recipes on the proxy, with their Qwen3-235B-A22B cost on 2×A100-80GB')
    .option('--model <dir>', 'proxy model directory', DEFAULT_PROXY)
    .option('--tokens <n>', 'held-out bytes per evaluation (default 32768)', positiveInt('--tokens'))
    .option('--json', 'print JSON')
    .option('--write-readme', "rewrite README.md's generated baselines and weight-memory blocks")
    .action(async (flags: BaselineFlags) => {
      // Loaded lazily, like the libraries: every other command starts without the corpus and kernels.
      const { checkEvalTokens } = await import('../core-inputs.js');
      const { baselineTable, markdownTable } = await import('../../../science/baselines/table.js');
      const { cacheDir } = await import('../../client/paths.js');
      existingDir('--model', flags.model);
      checkEvalTokens('--tokens', flags.tokens);
      const rows = await baselineTable(flags.model, {
        tokens: flags.tokens,
        sensitivityCacheDir: cacheDir(),
        onProgress: (stage, d, t) => progressLine(`${stage} ${d}/${t}`),
        onRow: (r) => progressLine(`measured ${r.recipe}`),
      });
      endProgress();
      if (flags.writeReadme) await writeReadme(rows);
      emit(flags, rows, () => markdownTable(rows));
    });
}
