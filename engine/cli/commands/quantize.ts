// evoquant quantize: apply a recipe to a model directory and write the quantized model.
import type { Command } from 'commander';
import { existingDir, positiveInt } from '../args.js';
import { UsageError } from '../errors.js';
import { emit, endProgress, progressLine } from '../output.js';
import { echo } from '../../../schema/echo.js';

interface QuantizeFlags {
  model: string;
  recipe: string;
  out: string;
  calibrationTokens?: number;
  force?: boolean;
  json?: boolean;
}

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('quantize a model directory with a recipe and write safetensors')
    .requiredOption('--model <dir>', 'model directory (config.json + model.safetensors)')
    .requiredOption('--recipe <recipe>', 'builtin:NAME or a recipe .json/.yaml file')
    .requiredOption('--out <dir>', 'output directory (new, empty, or one evoquant wrote)')
    .option('--calibration-tokens <n>', 'calibration tokens from the Brown training split', positiveInt('--calibration-tokens'))
    .option('--force', 'replace --out if evoquant wrote it')
    .option('--json', 'print JSON')
    .action(async (flags: QuantizeFlags) => {
      // Loaded lazily, like the libraries: every other command starts without the corpus and kernels.
      const { asUsage, checkCalibrationTokens, checkOut, recipeFile } = await import('../core-inputs.js');
      const { applyRecipe, assertUnquantized, prepareModel } = await import('../../../science/compression/pipeline.js');
      const { loadModel, writeQuantizedModel } = await import('../../../science/compression/quantized-format.js');
      const { loadRecipe } = await import('../../../science/recipes/load.js');
      const { cacheDir } = await import('../../client/paths.js');
      // Every input is checked before anything is computed or written.
      existingDir('--model', flags.model);
      const recipe = loadRecipe(flags.recipe);
      const target = checkOut(flags.out, flags.force === true, [{ path: flags.model, what: 'the model directory (--model)' }, ...recipeFile(flags.recipe)]);
      const weights = loadModel(flags.model);
      assertUnquantized(flags.model, weights);
      checkCalibrationTokens('--calibration-tokens', flags.calibrationTokens, weights.config);
      const started = Date.now();
      const progress = (stage: string, done: number, total: number): void => progressLine(`${stage} ${done}/${total}`);
      const prepared = await prepareModel(flags.model, { weights, calibration: { tokens: flags.calibrationTokens }, onProgress: progress });
      const qp = await applyRecipe(prepared, recipe, { onProgress: progress, sensitivityCacheDir: cacheDir() });
      const written = asUsage(() => writeQuantizedModel(target.path, qp, prepared.weights.config, { replace: flags.force === true }));
      endProgress();
      if (!written) throw new UsageError(`--out: ${echo(flags.out)} appeared while quantizing; it was left untouched`);
      const topped = prepared.calibration.coverage.filter((c) => c.added > 0);
      const result = {
        recipe: recipe.name,
        out: flags.out,
        bytes: qp.bytes.total,
        bytesByRole: qp.bytes.byRole,
        modules: qp.modules.length,
        calibrationTokens: prepared.calibration.tokens,
        expertsToppedUp: topped.map((c) => ({ layer: c.layer, expert: c.expert, routed: c.routed, added: c.added })),
        seconds: (Date.now() - started) / 1000,
      };
      emit(flags, result, () =>
        [
          `quantized ${flags.model} with ${recipe.name} → ${flags.out}`,
          `  stored bytes: ${qp.bytes.total.toLocaleString('en-US')} across ${qp.modules.length} linear modules`,
          `  calibration: ${prepared.calibration.tokens} tokens; ${topped.length} rarely routed experts topped up to full coverage`,
          `  took ${result.seconds.toFixed(1)} s`,
        ].join('\n'),
      );
    });
}
