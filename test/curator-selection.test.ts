// The curator's selection: Deb's constrained domination, NSGA-II's fronts and crowding distances
// (checked against a hand-computed example), niche seats by strategy family, infeasible items last,
// determinism, and properties over random populations; and the strategy niche of real builtins.
import test from 'ava';
import fc from 'fast-check';
import {
  constrainedDominates,
  crowdedCompare,
  curate,
  nonDominatedFronts,
  rankItems,
  type CurationItem,
} from '../evolution/selection/constrained-pareto.js';
import { NICHE_FEATURES, NICHE_METHODS, strategyNiche } from '../evolution/selection/strategy-niche.js';
import { BUILTIN_RECIPES, builtinRecipe, builtinRecipeNames } from '../science/recipes/builtin.js';
import { Recipe } from '../schema/recipe.js';

const SEED = 20261130;

function item(id: string, gbPerGpu: number, kl: number, niche = 'rtn', violation = 0): CurationItem {
  return { id, niche, gbPerGpu, kl, violation };
}

const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-12;

test('constrained domination: feasible beats infeasible, smaller violation beats larger, Pareto among feasible', (t) => {
  const fits = item('a', 90, 0.9);
  const over = item('b', 10, 0.01, 'rtn', 5);
  const further = item('c', 5, 0.001, 'rtn', 7);
  t.true(constrainedDominates(fits, over), 'feasible dominates infeasible whatever the objectives');
  t.false(constrainedDominates(over, fits));
  t.true(constrainedDominates(over, further), 'smaller violation dominates');
  t.false(constrainedDominates(further, over));
  const alsoOver = item('d', 1, 0, 'rtn', 5);
  t.false(constrainedDominates(over, alsoOver), 'equal violation: neither');
  t.false(constrainedDominates(alsoOver, over));
  // Feasible: Pareto on (GB, KL), both minimised.
  t.true(constrainedDominates(item('x', 10, 0.1), item('y', 10, 0.2)));
  t.true(constrainedDominates(item('x', 9, 0.2), item('y', 10, 0.2)));
  t.false(constrainedDominates(item('x', 9, 0.3), item('y', 10, 0.2)), 'a trade-off dominates neither way');
  t.false(constrainedDominates(item('x', 10, 0.2), item('y', 10, 0.2)), 'equal objectives: neither');
  // Unmeasured (+Infinity KL) is worse than any measured loss at no less memory.
  t.true(constrainedDominates(item('x', 10, 0.2), item('y', 10, Infinity)));
  t.false(constrainedDominates(item('x', 10, Infinity), item('y', 10, Infinity)));
  t.true(constrainedDominates(item('x', 9, Infinity), item('y', 10, Infinity)));
});

// Hand-computed NSGA-II example (all feasible).
//   front 0: A(10, .50) B(20, .20) C(30, .10) D(40, .05)
//   front 1: G(12, .60) E(25, .30) H(50, .08)   (G by A, E by B, H by D)
//   front 2: F(35, .40)                          (by C and E)
// Crowding in front 0: GB range 30, KL range .45; A and D are boundaries.
//   B: (30−10)/30 + (.50−.10)/.45 = 2/3 + 8/9 = 14/9;  C: (40−20)/30 + (.20−.05)/.45 = 2/3 + 1/3 = 1.
// Front 1: GB range 38, KL range .52; E: (50−12)/38 + (.60−.08)/.52 = 2; G and H boundaries.
const EXAMPLE: CurationItem[] = [
  item('A', 10, 0.5, 'rtn'),
  item('B', 20, 0.2, 'gptq'),
  item('C', 30, 0.1, 'gptq'),
  item('D', 40, 0.05, 'awq'),
  item('E', 25, 0.3, 'autoround'),
  item('F', 35, 0.4, 'fp8'),
  item('G', 12, 0.6, 'rtn'),
  item('H', 50, 0.08, 'gptq'),
];

test('NSGA-II on a hand-computed example: fronts, ranks and crowding distances', (t) => {
  const fronts = nonDominatedFronts(EXAMPLE).map((f) => f.map((i) => EXAMPLE[i].id).sort());
  t.deepEqual(fronts, [['A', 'B', 'C', 'D'], ['E', 'G', 'H'], ['F']]);
  const ranked = new Map(rankItems(EXAMPLE).map((r) => [r.id, r]));
  const expected: Record<string, [number, number]> = {
    A: [0, Infinity],
    B: [0, 14 / 9],
    C: [0, 1],
    D: [0, Infinity],
    E: [1, 2],
    G: [1, Infinity],
    H: [1, Infinity],
    F: [2, Infinity],
  };
  for (const [id, [rank, crowding]] of Object.entries(expected)) {
    const r = ranked.get(id)!;
    t.is(r.rank, rank, `${id} rank`);
    t.true(r.crowding === crowding || near(r.crowding, crowding), `${id} crowding ${r.crowding}, expected ${crowding}`);
  }
  // Crowded comparison: rank, then crowding (desc), then KL: D before A (both infinite), B before C.
  t.deepEqual(rankItems(EXAMPLE).sort(crowdedCompare).map((r) => r.id), ['D', 'A', 'B', 'C', 'H', 'G', 'E', 'F']);
});

test('niche seats: a dominated family survives when count allows, and the best families keep theirs when it does not', (t) => {
  // Niche bests: awq D, rtn A, gptq B (front 0), autoround E (front 1), fp8 F (front 2).
  const all = curate(EXAMPLE, 8);
  t.deepEqual(all.map((c) => c.id), ['D', 'A', 'B', 'C', 'H', 'G', 'E', 'F']);
  t.deepEqual(all.filter((c) => c.reason === 'niche-best').map((c) => c.id), ['D', 'A', 'B', 'E', 'F']);

  // Four seats: four best niches reserved; autoround's E (front 1) lives although C (front 0) does not.
  const four = curate(EXAMPLE, 4);
  t.deepEqual(four.map((c) => [c.id, c.reason]), [['D', 'niche-best'], ['A', 'niche-best'], ['B', 'niche-best'], ['E', 'niche-best']]);
  // Six seats: five niches, then the best of the rest (C, front 0).
  t.deepEqual(curate(EXAMPLE, 6).map((c) => [c.id, c.reason]), [['D', 'niche-best'], ['A', 'niche-best'], ['B', 'niche-best'], ['C', 'front'], ['E', 'niche-best'], ['F', 'niche-best']]);
  // Fewer seats than niches: the best niches first; the dominated families drop.
  t.deepEqual(curate(EXAMPLE, 3).map((c) => c.id), ['D', 'A', 'B']);
  t.deepEqual(curate(EXAMPLE, 1).map((c) => c.id), ['D']);
  t.deepEqual(curate(EXAMPLE, 0), []);
  // One niche: plain NSGA-II truncation by the crowded comparison.
  const single = EXAMPLE.map((c) => ({ ...c, niche: 'gptq' }));
  t.deepEqual(curate(single, 5).map((c) => c.id), ['D', 'A', 'B', 'C', 'H']);
  t.deepEqual(curate(single, 5).map((c) => c.reason), ['niche-best', 'front', 'front', 'front', 'front']);
});

test('infeasible items survive only when too few fit, smallest violation first, and never take a niche seat', (t) => {
  const items = [
    item('f1', 50, 0.2, 'gptq'),
    item('f2', 60, 0.1, 'gptq'),
    item('f3', 70, 0.3, 'rtn'),
    // Better on both objectives, but over the GPU's capacity; a niche of its own.
    item('x5', 10, 0.01, 'awq', 5),
    item('x1', 20, 0.02, 'awq', 1),
    item('x3', 30, 0.03, 'fp8', 3),
  ];
  t.deepEqual(curate(items, 3).map((c) => c.id).sort(), ['f1', 'f2', 'f3']);
  t.deepEqual(curate(items, 4).map((c) => c.id), ['f2', 'f1', 'f3', 'x1']);
  t.deepEqual(curate(items, 5).map((c) => c.id), ['f2', 'f1', 'f3', 'x1', 'x3']);
  const six = curate(items, 6);
  t.deepEqual(six.map((c) => [c.id, c.rank]), [['f2', 0], ['f1', 0], ['f3', 1], ['x1', 2], ['x3', 3], ['x5', 4]]);
  t.true(six.filter((c) => c.id.startsWith('x')).every((c) => c.reason === 'front'));
  // All infeasible: by violation; equal violations share a front and are spread by crowding.
  const over = [item('v2a', 10, 0.5, 'a', 2), item('v2b', 20, 0.4, 'b', 2), item('v2c', 30, 0.3, 'c', 2), item('v1', 90, 0.9, 'd', 1)];
  const curated = curate(over, 4);
  // v2a and v2c bound the equal-violation front (infinite crowding; lower KL first), v2b sits inside.
  t.deepEqual(curated.map((c) => c.id), ['v1', 'v2c', 'v2a', 'v2b']);
  t.deepEqual(curated.map((c) => c.rank), [0, 1, 1, 1]);
});

test('duplicated objectives: the first copy by id carries the crowding, the others get 0', (t) => {
  const items = [item('b', 10, 0.3), item('a', 10, 0.3), item('c', 20, 0.2), item('d', 30, 0.1), item('e', 20, 0.2)];
  const ranked = new Map(rankItems(items).map((r) => [r.id, r]));
  t.is(ranked.get('a')!.crowding, Infinity);
  t.is(ranked.get('b')!.crowding, 0);
  t.true(near(ranked.get('c')!.crowding, 2), 'c spans the whole range on both objectives');
  t.is(ranked.get('e')!.crowding, 0);
  t.deepEqual(curate(items, 3).map((c) => c.id), ['d', 'a', 'c']);
  // Identical items only: every one of them is front 0; one is a boundary.
  const same = curate([item('z', 1, 1), item('y', 1, 1), item('x', 1, 1)], 2);
  t.deepEqual(same.map((c) => [c.id, c.crowding]), [['x', Infinity], ['y', 0]]);
});

test('unmeasured items (KL +Infinity) rank and crowd without NaN', (t) => {
  const items = [item('small-unmeasured', 5, Infinity), item('m1', 10, 0.5), item('m2', 20, 0.2), item('m3', 30, 0.1), item('big-unmeasured', 40, Infinity)];
  const ranked = new Map(rankItems(items).map((r) => [r.id, r]));
  t.is(ranked.get('small-unmeasured')!.rank, 0);
  t.is(ranked.get('big-unmeasured')!.rank, 1);
  for (const r of ranked.values()) t.false(Number.isNaN(r.crowding), r.id);
  // m1 neighbours the unmeasured point along KL: it is the measured front's boundary.
  t.is(ranked.get('m1')!.crowding, Infinity);
  // m2: GB (30−10)/25 + KL (.5−.1)/.4 over the finite KL range [.1, .5].
  t.true(near(ranked.get('m2')!.crowding, 20 / 25 + 1));
  // An infeasible front of equal violation holding several unmeasured points.
  const over = [item('u1', 1, Infinity, 'rtn', 3), item('u2', 2, Infinity, 'rtn', 3), item('u3', 3, Infinity, 'rtn', 3), item('u4', 4, 0.5, 'rtn', 3)];
  const crowding = Object.fromEntries(rankItems(over).map((r) => [r.id, r.crowding]));
  // u2 sits between two unmeasured points along KL (no gap there): only its GB gap (3−1)/3 counts.
  t.deepEqual(crowding, { u1: Infinity, u2: 2 / 3, u3: Infinity, u4: Infinity });
});

test('crowding stays finite where a finite range overflows a double', (t) => {
  const items = [item('hi', 1, 1e308), item('mid', 2, 0), item('lo', 3, -1e308)];
  // mid: GB (3−1)/2 + KL (1e308 − (−1e308)) / (1e308 − (−1e308)) = 1 + 1.
  t.is(new Map(rankItems(items).map((r) => [r.id, r.crowding])).get('mid'), 2);
});

test('deterministic: a shuffled population gives the same survivors in the same order', (t) => {
  const items = [...EXAMPLE, item('I', 22, 0.2, 'gptq'), item('J', 22, 0.2, 'awq'), item('K', 100, 0.01, 'rtn', 4), item('L', 8, Infinity, 'bf16')];
  const expected = curate(items, 7);
  fc.assert(
    fc.property(fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length }), (shuffled) => {
      t.deepEqual(curate(shuffled, 7), expected);
    }),
    { seed: SEED, numRuns: 100 },
  );
});

test('bad input is refused with one clear line', (t) => {
  t.throws(() => curate([item('a', 1, Number.NaN)], 1), { instanceOf: RangeError, message: /item 0 \("a"\): kl must be a number or \+Infinity/ });
  t.throws(() => curate([item('a', Number.NaN, 1)], 1), { message: /gbPerGpu must be finite/ });
  t.throws(() => curate([item('a', Infinity, 1)], 1), { message: /gbPerGpu must be finite/ });
  t.throws(() => curate([item('a', 1, 1, 'rtn', Number.NaN)], 1), { message: /violation must be ≥ 0/ });
  t.throws(() => curate([item('a', 1, 1, 'rtn', -1)], 1), { message: /violation must be ≥ 0/ });
  t.throws(() => curate([item('a', 1, -Infinity)], 1), { message: /kl must be/ });
  t.throws(() => curate([item('a', 1, 1), item('a', 2, 0)], 1), { message: /id repeats/ });
  t.throws(() => curate([], -1), { message: /count must be a non-negative integer/ });
  t.throws(() => curate([], 1.5), { message: /count must be a non-negative integer/ });
  t.deepEqual(curate([], 5), []);
});

// Random populations: small grids make duplicates and ties frequent; extremes exercise overflow.
const population = fc
  .array(
    fc.record({
      niche: fc.constantFrom('rtn', 'gptq', 'awq', 'fp8', 'gptq+expert-layers'),
      gbPerGpu: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.double({ min: 0, max: Number.MAX_VALUE, noNaN: true })),
      kl: fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constant(Infinity), fc.double({ min: -Number.MAX_VALUE, max: Number.MAX_VALUE, noNaN: true })),
      violation: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 4 }), weight: 1 }, { arbitrary: fc.constant(Infinity), weight: 1 }),
    }),
    { maxLength: 24 },
  )
  .map((rows) => rows.map((r, i): CurationItem => ({ id: `c${(i * 7919) % 1000}-${i}`, ...r })));

test('properties: survivors are a subset of the right size, ranks are true fronts, no NaN, niches and front 0 kept', (t) => {
  fc.assert(
    fc.property(population, fc.integer({ min: 0, max: 30 }), (items, count) => {
      const out = curate(items, count);
      const ids = new Set(items.map((i) => i.id));
      const byId = new Map(items.map((i) => [i.id, i]));
      t.is(out.length, Math.min(count, items.length));
      t.is(new Set(out.map((c) => c.id)).size, out.length, 'no survivor twice');
      t.true(out.every((c) => ids.has(c.id)));
      t.true(out.every((c) => !Number.isNaN(c.crowding) && c.crowding >= 0 && Number.isInteger(c.rank) && c.rank >= 0));
      t.true(out.every((c) => byId.get(c.id)!.niche === c.niche));

      // Ranks are the constrained-domination fronts: none dominates another of its rank, each item
      // past front 0 is dominated by one of the previous front.
      const ranked = rankItems(items);
      for (const a of ranked) {
        for (const b of ranked) if (a.rank === b.rank) t.false(constrainedDominates(a, b));
        if (a.rank > 0) t.true(ranked.some((b) => b.rank === a.rank - 1 && constrainedDominates(b, a)));
        t.false(Number.isNaN(a.crowding));
      }

      const feasible = ranked.filter((r) => r.violation === 0);
      const niches = new Set(feasible.map((r) => r.niche));
      const survived = new Set(out.map((c) => c.id));
      const front0 = feasible.filter((r) => r.rank === 0);
      if (count >= front0.length + niches.size) t.true(front0.every((r) => survived.has(r.id)), 'every feasible front-0 item survives');
      if (count >= niches.size) t.true([...niches].every((n) => out.some((c) => c.niche === n && byId.get(c.id)!.violation === 0)), 'every feasible niche keeps a seat');
      // Infeasible items only when too few fit, and by violation.
      const keptInfeasible = out.filter((c) => byId.get(c.id)!.violation > 0);
      if (feasible.length >= count) t.is(keptInfeasible.length, 0);
      else t.is(out.length - keptInfeasible.length, feasible.length, 'every feasible item survives first');
      const worstKept = Math.max(...keptInfeasible.map((c) => byId.get(c.id)!.violation));
      for (const r of ranked) if (r.violation > 0 && !survived.has(r.id)) t.true(r.violation >= worstKept);
      // Best first.
      const order = out.map((c) => ranked.find((r) => r.id === c.id)!);
      for (let i = 1; i < order.length; i++) t.true(crowdedCompare(order[i - 1], order[i]) < 0);
    }),
    { seed: SEED, numRuns: 300 },
  );
});

// ---- strategy niches of real recipes ----

test('strategyNiche: the builtins fall into a few method × feature families', (t) => {
  const expected: Record<string, string> = {
    bf16: 'bf16',
    'fp8-w8a8': 'fp8',
    'fp8-w8a16': 'fp8',
    w8a16: 'rtn',
    'w4a16-g128-rtn': 'rtn',
    'w3a16-g128-rtn': 'rtn',
    'w2a16-g64-rtn': 'rtn',
    'w4a16-g128-gptq': 'gptq',
    'w3a16-g128-gptq': 'gptq',
    'w2a16-g64-gptq': 'gptq',
    // attn_o RTN in AWQ recipes changes the method of one role, not the strategy.
    'w4a16-g128-awq': 'awq',
    'w3a16-g128-awq': 'awq',
    'w2a16-g64-awq': 'awq',
    'moe-layers-sensitive4-rest3': 'gptq+expert-layers',
    'moe-layers-sensitive4-rest2': 'gptq+expert-layers',
    'moe-edges8-experts3-gptq': 'gptq+depth',
    'moe-edges8-experts3': 'awq+depth',
    'research-moe-hot4-cold3': 'gptq+expert-tiers',
    'research-moe-sensitive4-rest2-outliers': 'gptq+expert-tiers',
    'moe-prune25-w4a16-g128': 'gptq+reduced-experts',
  };
  t.deepEqual([...BUILTIN_RECIPES.keys()].sort(), Object.keys(expected).sort(), 'a new builtin needs its expected niche here');
  for (const name of builtinRecipeNames()) {
    const recipe = builtinRecipe(name)!;
    t.is(strategyNiche(recipe), expected[recipe.name], name);
  }
  const shape = new RegExp(`^(${NICHE_METHODS.join('|')})(\\+(${NICHE_FEATURES.join('|')}))?$`);
  t.true(Object.values(expected).every((n) => shape.test(n)));
});

test('strategyNiche: each feature, in its priority order, and redundant genes are no strategy', (t) => {
  const base = builtinRecipe('w4a16-g128-rtn')!;
  const niche = (patch: Record<string, unknown>): string => strategyNiche(Recipe.parse({ ...base, ...patch }));
  t.is(niche({ default: { ...base.default, rotation: { kind: 'hadamard', seed: 0 } } }), 'rtn+rotation');
  t.is(niche({ roles: { ...base.roles, expert_down: { outliers: { fraction: 0.01 } } } }), 'rtn+outliers');
  t.is(niche({ roles: { ...base.roles, attn_q: { bits: 8 }, attn_k: { bits: 8 } } }), 'rtn+attn');
  t.is(niche({ roles: { ...base.roles, attn_q: { bits: 2 } } }), 'rtn', 'fewer bits on attention protects nothing');
  t.is(niche({ default: { ...base.default, method: { kind: 'autoround' } } }), 'autoround');
  t.is(niche({ default: { ...base.default, method: { kind: 'gptq' } }, depth: [{ from: 0, to: 0.1, override: { bits: 8 } }] }), 'gptq+depth');
  // A band that sets what the default already has changes nothing.
  t.is(niche({ depth: [{ from: 0, to: 0.1, override: { bits: 4, groupSize: 128 } }] }), 'rtn');
  // Expert tiers with only empty overrides are uniform; a real tier wins over rotation.
  t.is(niche({ experts: { rankBy: 'sensitivity', tiers: [{ below: 1, override: {} }] } }), 'rtn');
  t.is(
    niche({ default: { ...base.default, rotation: { kind: 'hadamard', seed: 0 } }, expertLayers: { rankBy: 'sensitivity', tiers: [{ below: 0.5, override: { bits: 3 } }] } }),
    'rtn+expert-layers',
  );
  // A bf16 default whose tiers or bands quantize takes the method they quantize with (a budgeted allocation's shape).
  t.is(niche({ default: { bits: 16 }, expertLayers: { rankBy: 'sensitivity', tiers: [{ below: 1, override: { bits: 4 } }] } }), 'rtn+expert-layers');
  t.is(niche({ default: { bits: 16 }, depth: [{ from: 0, to: 1, roles: ['expert_gate', 'expert_up', 'expert_down'], override: { bits: 2, method: { kind: 'gptq', damp: 0.01, blockSize: 128, actOrder: true } } }] }), 'gptq+depth');
  // A module kept in bf16 has no method: a band that only changes the method of a bf16 default is no strategy.
  t.is(niche({ default: { bits: 16 }, depth: [{ from: 0, to: 0.5, override: { method: { kind: 'gptq' } } }] }), 'bf16');
  // An override turning rotation off is not rotation.
  t.is(niche({ roles: { ...base.roles, attn_o: { rotation: null } } }), 'rtn');
});
