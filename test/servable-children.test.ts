// Deployable by construction: the architect's children for a vllm evolution compile without a
// not-servable violation, servableRecipe moves a recipe onto what a stack serves (and leaves the
// reference stack's research designs alone), and the status counts compile's not-servable rejections.
import test from 'ava';
import fc from 'fast-check';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { notServableCounts } from '../evolution/archive/not-servable.js';
import type { ScoredCandidate } from '../evolution/archive/scored-candidate.js';
import { architect } from '../evolution/agents/architect.js';
import { servingContext } from '../evolution/proposer/serving-context.js';
import { TECHNIQUES } from '../evolution/proposer/techniques.js';
import { formatEvolutionStatus } from '../engine/client/format.js';
import { DEMO_CONFIG } from '../engine/cli/demo/demo-config.js';
import { getHardwareProfile } from '../science/hardware/profiles.js';
import { compileTarget } from '../science/physics/compile.js';
import { BUILTIN_RECIPES, builtinRecipe } from '../science/recipes/builtin.js';
import { getServingStack } from '../science/serving-stacks/index.js';
import { servableRecipe, unservableSites } from '../science/physics/servable-recipe.js';
import type { CompileReport } from '../schema/compile-report.js';
import type { Recipe } from '../schema/recipe.js';
import type { ChainOfThought, ChainStep } from '../schema/agents.js';
import type { CandidateSummary, EvolutionStatus } from '../schema/workflow-contracts.js';
import { PROXY_DIR } from './helpers/proxy.js';
import { KvPolicy } from '../schema/kv-policy.js';

const PROXY_A100 = { model: PROXY_DIR, hardware: 'a100-80gb', gpus: 1, tensorParallel: 1 };
const VLLM_A100 = servingContext({ stack: 'vllm', hardware: 'a100-80gb', model: PROXY_DIR });
const BUILTINS = [...BUILTIN_RECIPES.values()];

const notServable = (r: CompileReport): string[] => r.violations.filter((v) => v.code === 'not-servable').map((v) => v.message);

function builtin(name: string): Recipe {
  const r = builtinRecipe(name);
  if (!r) throw new Error(`no builtin ${name}`);
  return r;
}

function scored(recipe: Recipe, i: number, gb: number, kl: number): ScoredCandidate {
  return { id: `c${i}`, generation: 0, recipe, parents: [], technique: null, score: { fits: true, gbPerGpu: gb, kl, top1: 0.5, relativeAccuracyLoss: 0, proxyBytes: 1 } };
}

const chainStep = (operator: string): ChainStep => ({
  pattern: 'mixed-precision-sensitivity-routing',
  innovation: operator,
  operator,
  from: [],
  why: `apply ${operator}`,
  memory: { direction: 'less', measuredMean: null },
  loss: { direction: 'more', measuredMean: null },
  score: null,
  evidence: 'none',
});

test('property: for any seed, chain and survivors among the builtins, every child the architect proposes for vllm compiles on the proxy without not-servable', (t) => {
  // Parents include the research designs and the unservable uniform 2/3-bit and AWQ baselines:
  // the children must be servable whatever they descend from, by mutation, transfer or crossover.
  const survivorsArb = fc.uniqueArray(fc.record({ recipe: fc.integer({ min: 0, max: BUILTINS.length - 1 }), gb: fc.double({ min: 20, max: 200, noNaN: true }), kl: fc.double({ min: 1e-4, max: 1, noNaN: true }) }), {
    minLength: 1,
    maxLength: 6,
    selector: (c) => c.recipe,
  });
  const stepsArb = fc.uniqueArray(fc.constantFrom(...TECHNIQUES.map((x) => x.id)), { maxLength: 6 });
  let children = 0;
  const techniques = new Set<string>();
  const operations = new Set<string>();
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 20 }), fc.constantFrom('graph' as const, 'ablated' as const), stepsArb, survivorsArb, (seed, generation, guidance, operators, picks) => {
      const survivors = picks.map((p, i) => scored(BUILTINS[p.recipe], i, p.gb, p.kl));
      const chain: ChainOfThought = { id: 'chain:e/gen-1', evolutionId: 'e', generation, family: 'moe/vllm/roomy', guidance, frontier: [], applied: [], steps: operators.map(chainStep) };
      const proposals = architect({ evolutionId: 'e', generation, seed, populationSize: 3, guidance, chain, survivors, archiveIds: new Set(survivors.map((c) => c.id)), seedRecipes: ['bf16'], serving: VLLM_A100 });
      for (const p of proposals) {
        children++;
        if (p.technique) techniques.add(p.technique);
        operations.add(p.operation);
        const report = compileTarget({ ...PROXY_A100, stack: 'vllm' }, p.recipe);
        if (notServable(report).length > 0) return false;
        if (unservableSites(VLLM_A100.table, VLLM_A100.hw, p.recipe, VLLM_A100.roles).length > 0) return false;
      }
      return true;
    }),
    { numRuns: 100, seed: 7 },
  );
  t.true(children >= 150, `${children} children`);
  // The children came from many operators and every way of making one, not one that happens to be harmless.
  t.true(techniques.size >= 6, [...techniques].join(', '));
  t.deepEqual([...operations].sort(), ['crossover', 'mutate', 'uniform']);
});

test('the per-expert-tier and outlier operators decline on vllm; AWQ shares its scales; expert-layer-tiers stays; rotation waits for a checkpoint that carries it', (t) => {
  const parent = builtin('w4a16-g128-gptq');
  const byId = new Map(TECHNIQUES.map((x) => [x.id, x]));
  const rng = () => xoroshiro128plus(3);
  for (const id of ['expert-tiers-frequency', 'expert-tiers-sensitivity', 'outlier-retention']) {
    t.is(byId.get(id)!.apply(parent, rng(), VLLM_A100), null, id);
    t.not(byId.get(id)!.apply(parent, rng()), null, `${id} applies without a stack`);
  }
  const awq = byId.get('awq')!.apply(parent, rng(), VLLM_A100)!;
  t.like(awq.default.method, { kind: 'awq', scales: 'shared-input' });
  t.is(awq.roles.attn_o?.method?.kind, 'gptq', 'attn_o keeps the parent\'s method under grouped KV heads');
  t.deepEqual(notServable(compileTarget({ ...PROXY_A100, stack: 'vllm' }, awq)), []);
  const layers = byId.get('expert-layer-tiers')!.apply(parent, rng(), VLLM_A100)!;
  t.is(layers.expertLayers?.rankBy, 'sensitivity');
  t.deepEqual(notServable(compileTarget({ ...PROXY_A100, stack: 'vllm' }, layers)), []);
  // No checkpoint evoquant writes for vLLM carries a rotation yet: the operator declines there.
  t.is(byId.get('hadamard-rotation')!.apply(parent, rng(), VLLM_A100), null);
  t.not(byId.get('hadamard-rotation')!.apply(parent, rng()), null);
});

test('servableRecipe: 3-bit layers stay on Humming; per-expert tiers become layer tiers; per-module AWQ on shared inputs becomes GPTQ', (t) => {
  const { table, hw, roles } = VLLM_A100;
  const w3 = servableRecipe(table, hw, builtin('w3a16-g128-gptq'), roles)!;
  // Humming serves 3 bits on dense layers and experts alike: nothing to fix.
  t.deepEqual(w3.roles, builtin('w3a16-g128-gptq').roles);
  t.is(w3.default.bits, 3);
  const r = compileTarget({ ...PROXY_A100, stack: 'vllm' }, w3);
  t.deepEqual(notServable(r), []);
  t.is(r.kernels.find((k) => k.role === 'expert_up')?.kernel, 'humming-moe');
  t.is(r.kernels.find((k) => k.role === 'attn_q')?.kernel, 'humming-linear');

  const tiers = servableRecipe(table, hw, builtin('research-moe-sensitive4-rest2-outliers'))!;
  t.is(tiers.experts, undefined);
  t.deepEqual(tiers.expertLayers?.tiers.map((x) => [x.below, x.override.bits ?? null, x.override.outliers ?? undefined, x.override.rotation ?? undefined]), [
    [0.5, null, undefined, undefined],
    [1, 2, undefined, undefined],
  ]);
  t.deepEqual(notServable(compileTarget({ ...PROXY_A100, stack: 'vllm' }, tiers)), []);
  // Per-module AWQ on inputs q/k/v and gate/up share becomes GPTQ there; vLLM caches no int4 KV
  // (its int4_per_token_head is another format), so a KIVI cache becomes the next wider it has: fp8.
  const gptq = builtin('w4a16-g128-gptq');
  const perModuleAwq = { ...gptq, default: { ...gptq.default, method: { kind: 'awq' as const, scaleGrid: 20, clip: true, clipGrid: 10, maxShrink: 0.5 } } };
  const kivi = KvPolicy.parse({ keys: { format: 'int4', axis: 'channel', groupSize: 32 }, values: { format: 'int4', axis: 'token', groupSize: 32 }, recentWindow: 128, keyPosition: 'pre-rope' });
  const awq = servableRecipe(table, hw, { ...perModuleAwq, kvCache: kivi })!;
  t.is(awq.roles.attn_q?.method?.kind, 'gptq');
  t.deepEqual(awq.kvCache, KvPolicy.parse({ keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' } }));
  t.deepEqual(notServable(compileTarget({ ...PROXY_A100, stack: 'vllm' }, awq)), []);
  // FP8 activations on an A100 (no FP8 tensor cores): weight-only FP8 through Marlin.
  const fp8 = servableRecipe(table, hw, builtin('fp8-w8a8'))!;
  t.is(fp8.activations, 'bf16');
  t.deepEqual(compileTarget({ ...PROXY_A100, stack: 'vllm' }, fp8).violations, []);
});

test('servableRecipe leaves servable builtins and the reference stack\'s research designs as they are; llama.cpp snaps groups to 32', (t) => {
  const { table, hw, roles } = VLLM_A100;
  for (const name of ['w4a16-g128-gptq', 'moe-layers-sensitive4-rest3', 'moe-layers-sensitive4-rest2', 'moe-edges8-experts3-gptq']) {
    t.deepEqual(unservableSites(table, hw, builtin(name), roles), [], name);
    const snapped = servableRecipe(table, hw, builtin(name), roles)!;
    t.deepEqual(snapped, builtin(name), name);
    t.deepEqual(compileTarget({ ...PROXY_A100, stack: 'vllm' }, snapped).weightBytes, compileTarget({ ...PROXY_A100, stack: 'vllm' }, builtin(name)).weightBytes, name);
  }
  const research = builtin('research-moe-hot4-cold3');
  t.is(servableRecipe(getServingStack('reference'), hw, research), research);
  const gguf = servableRecipe(getServingStack('llama.cpp'), getHardwareProfile('a100-80gb'), builtin('w4a16-g128-gptq'))!;
  t.is(gguf.roles.attn_q?.groupSize, 32);
  t.deepEqual(notServable(compileTarget({ ...PROXY_A100, stack: 'llama.cpp' }, gguf)), []);
});

test('the demo runs on vllm (the default stack) from seeds it serves', (t) => {
  t.is(DEMO_CONFIG.target.stack, undefined, 'the demo takes the default stack');
  const { model, hardware, gpus, tensorParallel, context, batch } = DEMO_CONFIG.target;
  for (const seed of DEMO_CONFIG.seedRecipes) {
    const recipe = typeof seed === 'string' ? builtin(seed) : seed;
    const report = compileTarget({ model, hardware, gpus, tensorParallel: tensorParallel ?? gpus, contextLength: context, batch }, recipe);
    t.is(report.stack.id, 'vllm');
    t.deepEqual(notServable(report), [], recipe.name);
  }
});

function summary(id: string, status: CandidateSummary['status'], parents: string[], violations: string[]): CandidateSummary {
  return { id, generation: parents.length ? 1 : 0, recipeName: id, parents, technique: parents.length ? 'lower-bits' : null, status, violations, gbPerGpu: 50, fits: true, kl: null, top1: null, relativeAccuracyLoss: null, error: null };
}

test('evoquant status shows how many children and seeds compile rejected as not servable', (t) => {
  const candidates = [
    summary('seed-ok', 'evaluated', [], []),
    summary('seed-ns', 'rejected', [], ['not-servable']),
    summary('seed-big', 'rejected', [], ['does-not-fit']),
    summary('child-ns', 'rejected', ['seed-ok'], ['does-not-fit', 'not-servable']),
    summary('child-ok', 'evaluated', ['seed-ok'], []),
  ];
  const counts = notServableCounts(candidates);
  t.deepEqual(counts, { seeds: 1, children: 1 });
  const status: EvolutionStatus = {
    evolutionId: 'evo-x',
    phase: 'completed',
    generation: 2,
    generations: 2,
    counts: { proposed: 0, rejected: 3, evaluated: 2, failed: 0, infeasible: 0 },
    notServable: counts,
    best: null,
    frontier: [],
    runs: 0,
    discoveries: [],
  };
  t.true(formatEvolutionStatus(status).includes("  not servable on the target's stack (rejected by compile): 1 children, 1 seeds"));
});
