// evoquant eval: measure a model (plain or quantized) on held-out text, optionally against a baseline.
import type { Command } from 'commander';
import { existingDir, positiveInt } from '../args.js';
import { UsageError } from '../errors.js';
import { emit, endProgress, progressLine } from '../output.js';

interface EvalFlags {
  model: string;
  baseline?: string;
  tokens?: number;
  json?: boolean;
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a model on the held-out Brown split: bits/byte, top-1, KL, routing')
    .requiredOption('--model <dir>', 'model directory')
    .option('--baseline <dir>', 'reference model for KL and relative accuracy loss')
    .option('--tokens <n>', 'held-out bytes to predict', positiveInt('--tokens'))
    .option('--json', 'print JSON')
    .action(async (flags: EvalFlags) => {
      // Loaded lazily, like the libraries: every other command starts without the corpus and kernels.
      const { checkEvalTokens } = await import('../core-inputs.js');
      const { loadModel } = await import('../../../science/compression/quantized-format.js');
      const { loadBrown } = await import('../../../science/corpus/brown.js');
      const { evaluateHeldOut } = await import('../../../science/evaluation/held-out.js');
      const { unigramBitsPerByte } = await import('../../../science/evaluation/unigram.js');
      const { ProxyModel } = await import('../../../science/model/forward.js');
      const { modelHash } = await import('../../../science/model/load.js');
      const { relativeAccuracyLoss } = await import('../../../science/evaluation/relative-loss.js');
      existingDir('--model', flags.model);
      if (flags.baseline) existingDir('--baseline', flags.baseline);
      checkEvalTokens('--tokens', flags.tokens);
      const weights = loadModel(flags.model);
      const baseWeights = flags.baseline ? loadModel(flags.baseline) : null;
      if (baseWeights && baseWeights.config.vocab_size !== weights.config.vocab_size) {
        throw new UsageError(`--baseline: vocab_size ${baseWeights.config.vocab_size} differs from the model's ${weights.config.vocab_size}; KL needs the same vocabulary`);
      }
      const model = new ProxyModel(weights);
      const baseline = baseWeights ? new ProxyModel(baseWeights) : null;
      const started = Date.now();
      const onProgress = (d: number, t: number): void => progressLine(`eval ${d}/${t} windows`);
      const metrics = await evaluateHeldOut(model, {
        tokens: flags.tokens,
        reference: baseline && flags.baseline ? { key: modelHash(flags.baseline), model: baseline } : undefined,
        onProgress,
      });
      const base = baseline ? await evaluateHeldOut(baseline, { tokens: flags.tokens, onProgress }) : null;
      endProgress();
      const brown = loadBrown();
      const result = {
        model: flags.model,
        ...metrics,
        unigramBitsPerByte: unigramBitsPerByte(brown.train, brown.heldOut),
        baseline: base ? { model: flags.baseline, bitsPerByte: base.bitsPerByte, top1: base.top1 } : null,
        relativeAccuracyLoss: base ? relativeAccuracyLoss(base.top1, metrics.top1) : null,
        seconds: (Date.now() - started) / 1000,
      };
      emit(flags, result, () =>
        [
          `${flags.model}: ${metrics.tokens} held-out bytes`,
          `  bits/byte ${metrics.bitsPerByte.toFixed(4)} (unigram ${result.unigramBitsPerByte.toFixed(4)})`,
          `  top-1 ${pct(metrics.top1)}${base ? ` (baseline ${pct(base.top1)}, relative loss ${pct(result.relativeAccuracyLoss!)})` : ''}`,
          ...(metrics.klBitsPerByte !== null ? [`  KL(baseline ‖ model) ${metrics.klBitsPerByte.toExponential(3)} bits/byte`] : []),
          '  routing share per expert:',
          ...metrics.expertFrequency.map((layer, l) => `    layer ${l}: ${layer.map((f) => f.toFixed(3)).join(' ')}`),
        ].join('\n'),
      );
    });
}
