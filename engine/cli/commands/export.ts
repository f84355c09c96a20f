// evoquant export: turn a quantized proxy into files a real tool loads, for a recipe its stack serves.
import type { Command } from 'commander';
import { existingDir, positiveInt } from '../args.js';
import { UsageError } from '../errors.js';
import { emit } from '../output.js';
import { echo } from '../../../schema/echo.js';

interface ExportFlags {
  quantized: string;
  format: string;
  out: string;
  stack?: string;
  hardware?: string;
  gpus?: number;
  force?: boolean;
  json?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a quantized model for a serving or quantization tool, refusing recipes the target stack cannot serve')
    .requiredOption('--quantized <dir>', 'quantized model directory written by evoquant quantize')
    .requiredOption('--format <format>', 'compressed-tensors, gptqmodel, llmcompressor or llama.cpp')
    .requiredOption('--out <dir>', 'output directory (new, empty, or one evoquant wrote)')
    .option('--stack <stack>', 'serving stack whose rules the recipe must respect (default: vllm; llama.cpp for the llama.cpp format)')
    .option('--hardware <profile>', 'hardware profile the stack serves on (default a100-80gb)')
    .option('--gpus <n>', 'GPU count (default 1)', positiveInt('--gpus', 1024))
    .option('--force', 'replace --out if evoquant wrote it')
    .option('--json', 'print JSON')
    .action(async (flags: ExportFlags) => {
      const { checkOut } = await import('../core-inputs.js');
      const { ExportFormat } = await import('../../../science/export/export-format.js');
      const { runExport } = await import('../../../science/export/run.js');
      // Every input is checked before anything is read or written.
      const format = ExportFormat.safeParse(flags.format);
      if (!format.success) throw new UsageError(`--format: unknown format "${echo(flags.format, 40)}"; ${format.error.issues[0]?.message ?? ''}`);
      existingDir('--quantized', flags.quantized);
      const target = checkOut(flags.out, flags.force === true, [{ path: flags.quantized, what: 'the quantized model directory (--quantized)' }]);
      const result = await runExport({
        quantizedDir: flags.quantized,
        format: format.data,
        out: target.path,
        replace: flags.force === true,
        ...(flags.stack !== undefined ? { stack: flags.stack } : {}),
        ...(flags.hardware !== undefined ? { hardware: flags.hardware } : {}),
        ...(flags.gpus !== undefined ? { gpus: flags.gpus } : {}),
      });
      if (!result.written) throw new UsageError(`--out: ${echo(flags.out)} appeared while exporting; it was left untouched`);
      emit(flags, { ...result, out: flags.out }, () =>
        [
          `exported ${flags.quantized} (recipe ${result.recipe}) as ${result.format} → ${flags.out}`,
          `  servable on ${result.stack} (${result.checkpoint} checkpoint)`,
          ...result.files.map((f) => `  ${f.path} (${f.bytes.toLocaleString('en-US')} bytes)`),
        ].join('\n'),
      );
    });
}
