// Budgeted allocation (issue #7 §2): the solver is exact (against brute force), its recipes are
// admitted by compile at the budget with the bytes it predicted, a tighter budget never predicts a
// lower loss, and the command refuses infeasible budgets and bad flags with one line, exit 2.
import test from 'ava';
import fc from 'fast-check';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Allocator, InfeasibleBudgetError } from '../science/allocation/allocate.js';
import { buildProblem, proxyLayerOf, type AllocationProblem } from '../science/allocation/problem.js';
import { ParetoFront, solveKnapsack, type KnapsackOption } from '../science/allocation/solve.js';
import { pearson, spearman } from '../science/allocation/correlation.js';
import { InvalidDeploymentError } from '../schema/deployment.js';
import { resolveSpec } from '../schema/recipe.js';
import { budgetGb } from '../engine/cli/commands/allocate.js';
import { UsageError } from '../engine/cli/errors.js';
import { inBatches, spawnCli } from './helpers/cli.js';
import { refusalProblem } from './helpers/refusal.js';
import { PROXY_DIR } from './helpers/proxy.js';
import { mulberry, syntheticProfile } from './helpers/synthetic-profile.js';

const SEED = 20261130;
const work = mkdtempSync(join(tmpdir(), 'allocate-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

/** Every choice, enumerated: the optimum by definition. */
function bruteForce(groups: KnapsackOption[][], budget: number): { cost: number; weight: number } | null {
  let best: { cost: number; weight: number } | null = null;
  const walk = (g: number, weight: number, cost: number): void => {
    if (g === groups.length) {
      if (weight <= budget && (best === null || cost < best.cost)) best = { cost, weight };
      return;
    }
    for (const o of groups[g]) walk(g + 1, weight + o.weight, cost + o.cost);
  };
  walk(0, 0, 0);
  return best;
}

const option = fc.record({ weight: fc.integer({ min: 0, max: 60 }), cost: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.double({ min: 0, max: 5, noNaN: true })) });
const instance = fc.array(fc.array(option, { minLength: 1, maxLength: 4 }), { minLength: 0, maxLength: 6 });

test('the Pareto-front DP finds the brute-force optimum of every small multiple-choice knapsack', (t) => {
  fc.assert(
    fc.property(instance, fc.integer({ min: -5, max: 300 }), (groups, budget) => {
      const best = bruteForce(groups, budget);
      const got = solveKnapsack(groups, budget);
      if (best === null) return got === null;
      if (got === null) return false;
      const weight = got.choice.reduce((s, k, g) => s + groups[g][k].weight, 0);
      const cost = got.choice.reduce((s, k, g) => s + groups[g][k].cost, 0);
      return got.cost === best.cost && cost === got.cost && weight === got.weight && weight <= budget;
    }),
    { seed: SEED, numRuns: 400 },
  );
  t.pass();
});

test('a tighter budget never gets a lower optimum, and the front is strictly Pareto', (t) => {
  fc.assert(
    fc.property(instance, fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), (groups, a, b) => {
      const front = ParetoFront.build(groups);
      const pts = front.points();
      for (let i = 1; i < pts.length; i++) if (!(pts[i].weight > pts[i - 1].weight && pts[i].cost < pts[i - 1].cost)) return false;
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      const tight = front.solve(lo);
      const loose = front.solve(hi);
      return tight === null || (loose !== null && loose.cost <= tight.cost);
    }),
    { seed: SEED, numRuns: 300 },
  );
  t.pass();
});

test('the solver refuses options that are not whole non-negative bytes or finite costs', (t) => {
  t.throws(() => ParetoFront.build([[{ weight: 1.5, cost: 0 }]]), { message: /weight 1.5/ });
  t.throws(() => ParetoFront.build([[{ weight: 1, cost: Number.NaN }]]), { message: /cost NaN/ });
  t.throws(() => ParetoFront.build([[]]), { message: /no option/ });
});

test('Pearson and Spearman', (t) => {
  t.is(pearson([1, 2, 3], [2, 4, 6]), 1);
  t.is(spearman([1, 2, 3, 4], [1, 8, 27, 64]), 1);
  t.true(Math.abs(spearman([1, 2, 3], [3, 2, 1]) + 1) < 1e-12);
  t.true(Number.isNaN(pearson([1, 1], [1, 2])));
});

test('--budget-gb-per-gpu takes plain positive decimals up to 100000 and refuses everything else as usage', (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.double().map(String), fc.constantFrom('__proto__', 'constructor', '', ' 5', '5 ', '+5', '0x10', '1e3', 'Infinity', '-0', '.5', '5.')), (value) => {
      try {
        const n = budgetGb(value);
        return Number.isFinite(n) && n > 0 && n <= 100_000 && /^[0-9]+(\.[0-9]+)?$/.test(value);
      } catch (err) {
        return err instanceof UsageError && err.message.startsWith('--budget-gb-per-gpu: ') && !err.message.includes('\n');
      }
    }),
    { seed: SEED, numRuns: 500 },
  );
  t.is(budgetGb('55.5'), 55.5);
});


const QWEN = { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2 };
const qwenProblem = buildProblem({ target: QWEN, profile: syntheticProfile(mulberry(1)) });

function withCosts(problem: AllocationProblem, rand: () => number): AllocationProblem {
  return { ...problem, groups: problem.groups.map((g) => ({ ...g, options: g.options.map((o) => ({ ...o, cost: o.bits === 16 ? 0 : rand() * 0.05 })) })) };
}

test('the options are the widths the stack serves for each group (vllm on A100)', (t) => {
  const bitsOf = (kind: string): number[] => qwenProblem.groups.find((g) => g.kind === kind)!.options.map((o) => o.bits);
  t.deepEqual(bitsOf('experts'), [16, 2, 3, 4, 8]);
  // Humming serves 2/3-bit dense layers, Marlin 4/8-bit.
  t.deepEqual(bitsOf('qkv'), [16, 2, 3, 4, 8]);
  t.deepEqual(bitsOf('attn_o'), [16, 2, 3, 4, 8]);
  t.deepEqual(bitsOf('lm_head'), [16, 2, 3, 4, 8]);
  t.deepEqual(bitsOf('router'), [16]);
  t.deepEqual(bitsOf('embeddings'), [16]);
  // 94 target layers over 4 proxy bands, each target layer in exactly one, as resolveSpec maps them.
  const layers = qwenProblem.groups.filter((g) => g.kind === 'experts').flatMap((g) => g.targetLayers);
  t.deepEqual(layers, Array.from({ length: 94 }, (_, j) => j));
  for (const g of qwenProblem.groups.filter((x) => x.proxyLayer !== null)) for (const j of g.targetLayers) t.is(proxyLayerOf(j, 94, 4), g.proxyLayer ?? -1);
  const reference = buildProblem({ target: { ...QWEN, stack: 'reference' }, profile: syntheticProfile(mulberry(2)) });
  t.deepEqual(reference.groups.find((g) => g.kind === 'qkv')!.options.map((o) => o.bits), [16, 2, 3, 4, 8]);
});

test('allocated recipes are admitted by compile within the budget, with the bytes the solver counted', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.double({ min: 0, max: 1, noNaN: true }), (seed, where) => {
      const allocator = new Allocator(withCosts(qwenProblem, mulberry(seed)));
      const lo = allocator.minBytesPerGpu();
      const budget = Math.floor(lo + where * (qwenProblem.capacityBytes - lo));
      const a = allocator.allocate(budget);
      // Every expert group is one scheme per layer and q/k/v share one: compile would say otherwise.
      return a.report.violations.length === 0 && a.report.fits && a.report.perGpu.totalBytes === a.bytesPerGpu && a.bytesPerGpu <= budget;
    }),
    { seed: SEED, numRuns: 12 },
  );
  t.pass();
});

test('a tighter budget never predicts a lower loss on the real target', (t) => {
  const allocator = new Allocator(withCosts(qwenProblem, mulberry(7)));
  const lo = allocator.minBytesPerGpu();
  const budgets = Array.from({ length: 8 }, (_, i) => Math.floor(lo + (i * (qwenProblem.capacityBytes - lo)) / 7));
  const losses = budgets.map((b) => allocator.allocate(b).predictedLoss);
  for (let i = 1; i < losses.length; i++) t.true(losses[i] <= losses[i - 1], `budget ${budgets[i]}: ${losses[i]} > ${losses[i - 1]}`);
  t.true(losses[0] > losses[losses.length - 1]);
});

test('the recipe transfers by depth: each target layer gets its proxy layer\'s expert bits', (t) => {
  const allocator = new Allocator(withCosts(qwenProblem, mulberry(11)));
  const a = allocator.allocate(Math.floor((allocator.minBytesPerGpu() + qwenProblem.capacityBytes) / 2));
  for (const c of a.choices.filter((x) => x.kind === 'experts' || x.kind === 'qkv')) {
    for (const layer of c.targetLayers) {
      const role = c.kind === 'experts' ? 'expert_down' : 'attn_k';
      t.is(resolveSpec(a.recipe, { role, layer, numLayers: 94, expertQuantile: role === 'expert_down' ? 0.5 : null }).bits, c.bits);
    }
  }
});

test('an infeasible budget is refused naming the smallest feasible one, which then succeeds', (t) => {
  const allocator = new Allocator(qwenProblem);
  const err = t.throws(() => allocator.allocate(20e9), { instanceOf: InfeasibleBudgetError });
  const smallest = Number(/smallest feasible budget is ([0-9.]+) GB/.exec(err.message)![1]);
  t.true(allocator.allocate(smallest * 1e9).report.fits);
  t.throws(() => buildProblem({ target: { ...QWEN, gpus: 4 }, profile: syntheticProfile(mulberry(3)) }), { instanceOf: InvalidDeploymentError, message: /tensor parallelism only/ });
  // Qwen3-235B's smallest servable allocation on one GPU (experts at 2 bits, ≈70 GB) exceeds a 40 GB A100.
  const small = new Allocator(buildProblem({ target: { model: 'qwen3-235b-a22b', hardware: 'a100-40gb', gpus: 1, tensorParallel: 1 }, profile: syntheticProfile(mulberry(4)) }));
  t.throws(() => small.allocate(40e9), { instanceOf: InfeasibleBudgetError, message: /no servable allocation fits/ });
});

// The command itself.
const profilePath = join(work, 'profile.json');
writeFileSync(profilePath, JSON.stringify(syntheticProfile(mulberry(5))));
const otherProfile = join(work, 'other.json');
writeFileSync(otherProfile, JSON.stringify(syntheticProfile(mulberry(6), 'f'.repeat(64))));
const base = ['allocate', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', '2', '--profile', profilePath];

test('infeasible budgets and bad flags exit 2 with one line and write nothing', async (t) => {
  const out = join(work, 'refused.json');
  const cases: Array<[string, string[], RegExp]> = [
    ['infeasible', [...base, '--budget-gb-per-gpu', '20', '--out', out], /budget 20\.00 GB per GPU is infeasible .*smallest feasible budget is [0-9.]+ GB per GPU/],
    ['negative', [...base, '--budget-gb-per-gpu', '-5'], /--budget-gb-per-gpu/],
    ['NaN', [...base, '--budget-gb-per-gpu', 'NaN'], /--budget-gb-per-gpu: expected a positive number/],
    ['exponent', [...base, '--budget-gb-per-gpu', '1e999'], /--budget-gb-per-gpu: expected a positive number/],
    ['huge', [...base, '--budget-gb-per-gpu', '999999'], /--budget-gb-per-gpu: 999999 exceeds the maximum/],
    ['over the GPU', [...base, '--budget-gb-per-gpu', '90'], /--budget-gb-per-gpu: 90 exceeds the 85\.90 GB of one a100-80gb/],
    ['zero', [...base, '--budget-gb-per-gpu', '0'], /expected a positive number/],
    ['empty', [...base, '--budget-gb-per-gpu', ''], /expected a positive number/],
    ['__proto__', [...base, '--budget-gb-per-gpu', '__proto__'], /expected a positive number of GB, got "__proto__"/],
    ['missing budget', base, /--budget-gb-per-gpu: required/],
    ['__proto__ model', [...base, '--model', '__proto__', '--budget-gb-per-gpu', '50'], /__proto__/],
    ['unknown stack', [...base, '--stack', 'tgi', '--budget-gb-per-gpu', '50'], /stack must be one of/],
    ['pipeline', [...base, '--gpus', '4', '--tp', '2', '--budget-gb-per-gpu', '50'], /tensor parallelism only/],
    ['profile of another model', [...base, '--profile', otherProfile, '--budget-gb-per-gpu', '50'], /--profile: measured on model ffffffffffff/],
    ['empty profile', [...base, '--profile', '', '--budget-gb-per-gpu', '50'], /--profile: is empty/],
    ['empty out', [...base, '--budget-gb-per-gpu', '50', '--out', ''], /--out: is empty/],
    ['out over the profile', [...base, '--budget-gb-per-gpu', '50', '--out', profilePath, '--force'], /--out: .* is the profile file \(--profile\) or inside it/],
    ['out inside the proxy', [...base, '--budget-gb-per-gpu', '50', '--out', join(PROXY_DIR, 'config.json'), '--force'], /is the proxy model directory \(--proxy\) or inside it/],
    ['write-readme with a target', [...base, '--report', '--write-readme'], /--write-readme: the README's block is the default report; drop --model/],
    ['no model', ['allocate', '--hardware', 'a100-80gb', '--gpus', '2', '--budget-gb-per-gpu', '50'], /--model: required/],
    ['report with a budget', [...base, '--report', '--budget-gb-per-gpu', '50'], /--report allocates at its own budgets/],
    ['write-readme without report', [...base, '--budget-gb-per-gpu', '50', '--write-readme'], /go with --report/],
  ];
  const runs = await inBatches(cases.map(([, args]) => () => spawnCli(args, { timeoutMs: 60_000 })));
  cases.forEach(([name, , message], i) => {
    t.is(refusalProblem(runs[i], 30_000), null, name);
    t.regex(runs[i].stderr, message, name);
  });
  t.false(existsSync(out));
});

test('allocate --out writes a recipe that compile admits on the stack; an existing file needs --force', async (t) => {
  const out = join(work, 'recipe.json');
  const run = await spawnCli([...base, '--budget-gb-per-gpu', '55', '--out', out, '--json'], { timeoutMs: 60_000 });
  t.is(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout) as { bytesPerGpu: number; predictedLoss: number };
  t.true(result.bytesPerGpu <= 55e9);
  const compiled = await spawnCli(['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', '2', '--stack', 'vllm', '--recipe', out, '--json'], { timeoutMs: 60_000 });
  t.is(compiled.code, 0, compiled.stderr);
  const report = JSON.parse(compiled.stdout) as { violations: unknown[]; perGpu: { totalBytes: number } };
  t.deepEqual(report.violations, []);
  t.is(report.perGpu.totalBytes, result.bytesPerGpu);
  const before = readFileSync(out, 'utf8');
  const again = await spawnCli([...base, '--budget-gb-per-gpu', '45', '--out', out], { timeoutMs: 60_000 });
  t.is(refusalProblem(again, 30_000), null);
  t.regex(again.stderr, /already exists \(pass --force/);
  t.is(readFileSync(out, 'utf8'), before);
});
