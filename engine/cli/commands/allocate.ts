// evoquant allocate: the budgeted bit allocation (science/allocation/) as a recipe file, or with
// --report the predicted-against-measured table over budgets spanning the feasible range.
import type { Command } from 'commander';
import { existsSync, lstatSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { echo } from '../../../schema/echo.js';
import { isWithin, realTarget } from '../../../science/output-dir/target.js';
import { existingDir, positiveInt } from '../args.js';
import { UsageError } from '../errors.js';
import { emit, endProgress, progressLine } from '../output.js';

const DEFAULT_PROXY = fileURLToPath(new URL('../../../artifacts/proxy', import.meta.url));

interface AllocateFlags {
  model?: string;
  hardware?: string;
  gpus?: number;
  tp?: number;
  context?: number;
  batch?: number;
  budgetGbPerGpu?: number;
  stack: string;
  proxy: string;
  profile?: string;
  out?: string;
  force?: boolean;
  report?: boolean;
  budgets?: number;
  tokens?: number;
  writeReadme?: boolean;
  json?: boolean;
}

/** Plain decimals only ("1e3", "0x10", "NaN", "-4" refused), positive, at most 100000 GB. */
export function budgetGb(value: string): number {
  const n = /^[0-9]{1,6}(\.[0-9]{1,9})?$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--budget-gb-per-gpu: expected a positive number of GB, got "${echo(value)}"`);
  if (n > 100_000) throw new UsageError(`--budget-gb-per-gpu: ${n} exceeds the maximum of 100000 GB`);
  return n;
}

/** The recipe file --out names: a new file, or (with --force) an existing regular file; written whole or not at all. */
function checkOutFile(out: string, force: boolean, protect: ReadonlyArray<{ path: string; what: string }>): string {
  if (out.trim() === '') throw new UsageError('--out: is empty; name the recipe file to write');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(out)) throw new UsageError(`--out: ${echo(out)} contains control characters`);
  const abs = resolve(out);
  // The inputs are never overwritten, even with --force.
  for (const p of protect) if (isWithin(realTarget(abs), realTarget(resolve(p.path)))) throw new UsageError(`--out: ${echo(out)} is ${p.what} or inside it`);
  if (existsSync(abs)) {
    const st = lstatSync(abs);
    if (!st.isFile()) throw new UsageError(`--out: ${echo(out)} exists and is not a regular file`);
    if (!force) throw new UsageError(`--out: ${echo(out)} already exists (pass --force to replace it)`);
  } else if (!existsSync(dirname(abs)) || !lstatSync(dirname(abs)).isDirectory()) {
    throw new UsageError(`--out: the directory of ${echo(out)} does not exist`);
  }
  return abs;
}

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function registerAllocate(program: Command): void {
  program
    .command('allocate')
    .description('solve for per-layer, per-role bits that minimise predicted loss within a memory budget per GPU, as a recipe compile admits')
    .option('--model <name|config.json>', "target model: shipped name (qwen3-235b-a22b, …) or a HF config.json (required; --report defaults to the README's target)")
    .option('--hardware <profile>', 'hardware profile (a100-80gb, h100-80gb, …)')
    .option('--gpus <n>', 'GPU count', positiveInt('--gpus', 4096))
    .option('--tp <n>', 'tensor parallel degree (default: all GPUs; allocate plans tensor parallelism only)', positiveInt('--tp', 4096))
    .option('--context <n>', 'tokens of context per sequence (default 4096)', positiveInt('--context', 16_777_216))
    .option('--batch <n>', 'concurrent sequences (default 1)', positiveInt('--batch', 1_000_000))
    .option('--budget-gb-per-gpu <GB>', 'memory per GPU the model may use: weights, KV cache and runtime overhead (GB = 1e9 bytes)', budgetGb)
    .option('--stack <stack>', 'serving stack whose rules the allocation respects: vllm, llama.cpp or reference', 'vllm')
    .option('--proxy <dir>', 'proxy model whose sensitivity profile prices the choices', DEFAULT_PROXY)
    .option('--profile <file.json>', 'sensitivity profile of --proxy (default: measured once and cached)')
    .option('--out <recipe.json>', 'write the allocated recipe here')
    .option('--force', 'replace an existing --out file')
    .option('--report', 'allocate at budgets spanning the feasible range, quantize the proxy with each and measure it')
    .option('--budgets <n>', 'budgets of --report (default 10)', positiveInt('--budgets', 100))
    .option('--tokens <n>', 'held-out bytes per --report evaluation (default 32768)', positiveInt('--tokens'))
    .option('--write-readme', "with --report: rewrite README.md's generated allocation block")
    .option('--json', 'print JSON')
    .action(async (flags: AllocateFlags) => {
      const { checkEvalTokens } = await import('../core-inputs.js');
      const { loadBrown } = await import('../../../science/corpus/brown.js');
      const { loadModel } = await import('../../../science/compression/quantized-format.js');
      const { assertUnquantized } = await import('../../../science/compression/pipeline.js');
      const { modelHash } = await import('../../../science/model/load.js');
      const { cachedSensitivity } = await import('../../../science/sensitivity/cache.js');
      const { buildProblem } = await import('../../../science/allocation/problem.js');
      const { Allocator, GB } = await import('../../../science/allocation/allocate.js');
      const { formatAllocation } = await import('../../../science/allocation/format.js');
      const { cacheDir } = await import('../../client/paths.js');

      if (flags.report && flags.budgetGbPerGpu !== undefined) throw new UsageError('--report allocates at its own budgets; drop --budget-gb-per-gpu');
      if (flags.report && flags.out) throw new UsageError('--out writes one allocated recipe; it does not go with --report');
      if (!flags.report && flags.budgetGbPerGpu === undefined) throw new UsageError('--budget-gb-per-gpu: required (or pass --report)');
      if (!flags.report && (flags.writeReadme || flags.budgets !== undefined || flags.tokens !== undefined)) {
        throw new UsageError('--write-readme, --budgets and --tokens go with --report');
      }
      if (flags.profile === '') throw new UsageError('--profile: is empty; name a sensitivity profile file');
      if (flags.writeReadme) {
        // The README's block is the default report (its staleness test measures the same): no overrides.
        const overrides = (['model', 'hardware', 'gpus', 'tp', 'context', 'batch', 'profile', 'budgets', 'tokens'] as const).filter((k) => flags[k] !== undefined);
        if (overrides.length > 0 || flags.stack !== 'vllm' || flags.proxy !== DEFAULT_PROXY) {
          throw new UsageError(`--write-readme: the README's block is the default report; drop --${overrides[0] ?? (flags.stack !== 'vllm' ? 'stack' : 'proxy')}`);
        }
      }
      const reportTarget = flags.report && flags.model === undefined && flags.hardware === undefined && flags.gpus === undefined;
      const { README_TARGET } = await import('../../../science/allocation/report.js');
      const model = flags.model ?? (reportTarget ? README_TARGET.model : undefined);
      const hardware = flags.hardware ?? (reportTarget ? README_TARGET.hardware : undefined);
      const gpus = flags.gpus ?? (reportTarget ? README_TARGET.gpus : undefined);
      if (model === undefined) throw new UsageError('--model: required');
      if (hardware === undefined) throw new UsageError('--hardware: required');
      if (gpus === undefined) throw new UsageError('--gpus: required');
      existingDir('--proxy', flags.proxy);
      checkEvalTokens('--tokens', flags.tokens);
      const protect = [{ path: flags.proxy, what: 'the proxy model directory (--proxy)' }, ...(flags.profile ? [{ path: flags.profile, what: 'the profile file (--profile)' }] : [])];
      const out = flags.out === undefined ? undefined : checkOutFile(flags.out, flags.force === true, protect);

      const weights = loadModel(flags.proxy);
      assertUnquantized(flags.proxy, weights);
      const hash = modelHash(flags.proxy);
      // Target and stack are checked (cheaply) before the profile is measured or read.
      const target = { model, hardware, gpus, tensorParallel: flags.tp ?? gpus, contextLength: flags.context, batch: flags.batch, stack: flags.stack };
      const { parseTarget } = await import('../../../schema/deployment.js');
      parseTarget(target);
      let profile;
      if (flags.profile !== undefined) {
        const { readSensitivityProfile } = await import('../../../science/sensitivity/read.js');
        profile = readSensitivityProfile(flags.profile, hash, '--profile');
      } else {
        profile = (await cachedSensitivity(cacheDir(), weights, hash, loadBrown().train, { onProgress: (d, t) => progressLine(`sensitivity ${d}/${t}`) })).profile;
        endProgress();
      }
      const allocator = new Allocator(buildProblem({ target, profile }));

      if (flags.report) {
        const { prepareModel } = await import('../../../science/compression/pipeline.js');
        const { allocationReport, allocationMarkdown, ALLOCATION_BLOCK, ALLOCATION_COMMAND } = await import('../../../science/allocation/report.js');
        const prepared = await prepareModel(flags.proxy, { weights, onProgress: (stage, d, t) => progressLine(`${stage} ${d}/${t}`) });
        const report = await allocationReport(allocator, prepared, { budgets: flags.budgets, tokens: flags.tokens, onProgress: progressLine });
        endProgress();
        const body = allocationMarkdown(report);
        if (flags.writeReadme) {
          const { writeReadmeBlocks } = await import('../../../scripts/readme-blocks.js');
          writeReadmeBlocks([{ name: ALLOCATION_BLOCK, command: ALLOCATION_COMMAND, body }]);
        }
        emit(flags, report, () => body);
        return;
      }

      const hw = allocator.problem.capacityBytes;
      const budget = flags.budgetGbPerGpu! * GB;
      if (budget > hw) throw new UsageError(`--budget-gb-per-gpu: ${flags.budgetGbPerGpu} exceeds the ${(hw / GB).toFixed(2)} GB of one ${hardware}`);
      const allocation = allocator.allocate(budget);
      if (out) writeAtomically(out, `${JSON.stringify(allocation.recipe, null, 2)}\n`);
      const { report, ...summary } = allocation;
      const json = { ...summary, perGpu: report.perGpu, kernels: report.kernels, out: out ?? null, unservable: allocator.problem.unservable };
      emit(flags, json, () => formatAllocation(allocator.problem, allocation, out ?? null).join('\n'));
    });
}
