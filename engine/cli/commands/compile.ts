// evoquant compile: the physical feasibility check of a recipe on a target, before any GPU time.
import type { Command } from 'commander';
import { positiveInt } from '../args.js';
import { emit } from '../output.js';

interface CompileFlags {
  model: string;
  hardware: string;
  gpus: number;
  tp?: number;
  context?: number;
  batch?: number;
  recipe: string;
  stack?: string;
  checkpoint?: string;
  json?: boolean;
}

export function registerCompile(program: Command): void {
  program
    .command('compile')
    .description('check a recipe against the physics of a target: memory per GPU, kernels, shard shapes, decode roofline')
    .requiredOption('--model <name|config.json>', 'shipped model name (qwen3-235b-a22b, qwen3-30b-a3b, …) or a HF config.json')
    .requiredOption('--hardware <profile>', 'hardware profile (a100-80gb, h100-80gb, …)')
    .requiredOption('--gpus <n>', 'GPU count', positiveInt('--gpus'))
    .option('--tp <n>', 'tensor parallel degree (default: all GPUs)', positiveInt('--tp'))
    .option('--context <n>', 'tokens of context per sequence (default 4096)', positiveInt('--context'))
    .option('--batch <n>', 'concurrent sequences (default 1)', positiveInt('--batch'))
    .requiredOption('--recipe <recipe>', 'builtin:NAME or a recipe .json/.yaml file')
    .option('--stack <stack>', 'serving stack whose rules the recipe must respect: vllm, llama.cpp or reference (default vllm; reference runs research designs no stack serves)')
    .option('--checkpoint <format>', "checkpoint format the stack loads (default: the stack's first, e.g. compressed-tensors for vllm)")
    .option('--json', 'print JSON')
    .action(async (flags: CompileFlags) => {
      const { compileTarget } = await import('../../../science/physics/compile.js');
      const { formatReport } = await import('../../../science/physics/format.js');
      const { loadRecipe } = await import('../../../science/recipes/load.js');
      const recipe = loadRecipe(flags.recipe);
      const report = compileTarget(
        {
          model: flags.model,
          hardware: flags.hardware,
          gpus: flags.gpus,
          tensorParallel: flags.tp ?? flags.gpus,
          contextLength: flags.context,
          batch: flags.batch,
          stack: flags.stack,
          checkpoint: flags.checkpoint,
        },
        recipe,
      );
      emit(flags, report, () => formatReport(report).join('\n'));
    });
}
