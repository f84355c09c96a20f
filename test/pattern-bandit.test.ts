// The operator bandit over the evolution patterns' statistics: UCB1 on hand-computed numbers,
// untried patterns first, the pure update, knowledge pooled across similar target families, and
// one generation's picks spread over the patterns.
import test from 'ava';
import fc from 'fast-check';
import {
  familySimilarity,
  pickPattern,
  scorePatterns,
  updateStats,
  type PatternScore,
  type PatternStat,
} from '../evolution/agents/bandit.js';
import { EVOLUTION_PATTERNS, type EvolutionPattern } from '../schema/innovation.js';

const SEED = 20261130;
const TIGHT = 'moe/vllm/tight';

function stat(pattern: EvolutionPattern, family: string, tries: number, improvements: number, extra: Partial<PatternStat> = {}): PatternStat {
  return { pattern, family, tries, improvements, klDeltaSum: 0, gbDeltaSum: 0, measured: 0, thisEvolutionTries: 0, ...extra };
}

const near = (a: number, b: number, eps = 1e-12): boolean => Math.abs(a - b) < eps;
const scoreOf = (scores: PatternScore[], p: EvolutionPattern): PatternScore => scores.find((s) => s.pattern === p)!;

test('familySimilarity: 1 for the same family, half the shared leading fraction otherwise, symmetric', (t) => {
  t.is(familySimilarity(TIGHT, TIGHT), 1);
  t.is(familySimilarity(TIGHT, 'moe/vllm/roomy'), 1 / 3);
  t.is(familySimilarity(TIGHT, 'moe/llama.cpp/tight'), 1 / 6);
  t.is(familySimilarity(TIGHT, 'dense/vllm/tight'), 0, 'only leading segments count');
  t.is(familySimilarity(TIGHT, 'dense/llama.cpp/roomy'), 0);
  t.is(familySimilarity('moe/vllm', TIGHT), 1 / 3);
  t.is(familySimilarity('', TIGHT), 0);
  fc.assert(
    fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
      const s = familySimilarity(a, b);
      return s === familySimilarity(b, a) && s >= 0 && s <= 1 && (a === b ? s === 1 : s < 0.5);
    }),
    { seed: SEED, numRuns: 300 },
  );
});

test('untried patterns come first, in EVOLUTION_PATTERNS order, then UCB1 on hand-computed numbers', (t) => {
  const stats = [stat('error-compensation', TIGHT, 10, 6), stat('activation-awareness', TIGHT, 5, 1)];
  const scores = scorePatterns(stats, TIGHT);
  t.is(scores.length, EVOLUTION_PATTERNS.length);
  t.deepEqual(
    scores.map((s) => s.pattern),
    [...EVOLUTION_PATTERNS.filter((p) => p !== 'error-compensation' && p !== 'activation-awareness'), 'error-compensation', 'activation-awareness'],
  );
  t.true(scores.slice(0, 6).every((s) => s.score === Infinity && s.tries === 0 && s.evidence === 'none'));
  // N = 15: 6/10 + √(2 ln 15 / 10) and 1/5 + √(2 ln 15 / 5).
  t.true(near(scoreOf(scores, 'error-compensation').score, 1.3359416010937566));
  t.true(near(scoreOf(scores, 'activation-awareness').score, 1.2407785933813609));

  // Exploration can outrank a better mean: N = 105, 60/100 + √(2 ln 105/100) < 2/5 + √(2 ln 105/5).
  const explored = scorePatterns([stat('error-compensation', TIGHT, 100, 60), stat('activation-awareness', TIGHT, 5, 2)], TIGHT);
  t.true(near(scoreOf(explored, 'error-compensation').score, 0.9050888509977879));
  t.true(near(scoreOf(explored, 'activation-awareness').score, 1.764398820016717));
  t.deepEqual(explored.slice(-2).map((s) => s.pattern), ['activation-awareness', 'error-compensation']);
  // No exploration: the mean alone.
  const greedy = scorePatterns([stat('error-compensation', TIGHT, 100, 60), stat('activation-awareness', TIGHT, 5, 2)], TIGHT, { exploration: 0 });
  t.is(scoreOf(greedy, 'error-compensation').score, 0.6);
  t.is(scoreOf(greedy, 'activation-awareness').score, 0.4);
});

test('means and evidence: this evolution, other evolutions, none', (t) => {
  const stats = [
    stat('learned-rounding', TIGHT, 4, 2, { klDeltaSum: -0.2, gbDeltaSum: 0.4, measured: 2, thisEvolutionTries: 1 }),
    stat('pruning-merging', TIGHT, 3, 1, { klDeltaSum: 0.3, gbDeltaSum: -6, measured: 3 }),
    // Another family's row, pooled at 0.5 × 1/3.
    stat('pruning-merging', 'moe/vllm/roomy', 6, 6, { klDeltaSum: 0.6, gbDeltaSum: -12, measured: 6 }),
  ];
  const scores = scorePatterns(stats, TIGHT);
  const lr = scoreOf(scores, 'learned-rounding');
  t.is(lr.evidence, 'this-evolution');
  t.is(lr.meanKlDelta, -0.1);
  t.is(lr.meanGbDelta, 0.2);
  const pm = scoreOf(scores, 'pruning-merging');
  t.is(pm.evidence, 'other-evolutions');
  t.true(near(pm.tries, 3 + 6 / 6) && near(pm.improvements, 1 + 6 / 6));
  t.true(near(pm.meanKlDelta!, (0.3 + 0.1) / 4) && near(pm.meanGbDelta!, (-6 - 2) / 4));
  const none = scoreOf(scores, 'rotation-incoherence');
  t.deepEqual([none.evidence, none.meanKlDelta, none.meanGbDelta, none.score], ['none', null, null, Infinity]);
  // Pooling off: other families count for nothing.
  const own = scoreOf(scorePatterns(stats, TIGHT, { pooling: 0 }), 'pruning-merging');
  t.deepEqual([own.tries, own.improvements], [3, 1]);
});

test('knowledge carries across families: a success on moe/vllm/tight lifts moe/vllm/roomy more than dense/llama.cpp/roomy', (t) => {
  const targets = ['moe/vllm/roomy', 'moe/llama.cpp/roomy', 'dense/llama.cpp/roomy'];
  // Each target family has its own modest history: 20 tries, 5 improvements per pattern.
  const own = targets.flatMap((family) => EVOLUTION_PATTERNS.map((p) => stat(p, family, 20, 5)));
  // Another evolution found rotation very successful on the tight MoE target.
  const learned = [...own, stat('rotation-incoherence', TIGHT, 60, 57)];
  const lift = (family: string): number => scoreOf(scorePatterns(learned, family), 'rotation-incoherence').score - scoreOf(scorePatterns(own, family), 'rotation-incoherence').score;
  const [moeVllm, moeLlama, dense] = targets.map(lift);
  t.true(moeVllm > moeLlama, `lift on moe/vllm/roomy ${moeVllm} > moe/llama.cpp/roomy ${moeLlama}`);
  t.true(moeLlama > 0);
  t.is(dense, 0, 'no shared leading segment: nothing carries');
  t.is(scorePatterns(learned, 'moe/vllm/roomy')[0].pattern, 'rotation-incoherence', 'the transferred success leads there');
  t.is(scorePatterns(learned, 'dense/llama.cpp/roomy')[0].pattern, EVOLUTION_PATTERNS[0], 'all equal there: pattern order');
  // The pooled counts on moe/vllm/roomy: its own row, tight's at 0.5 × 1/3, moe/llama.cpp/roomy's at 0.5 × 1/6.
  const pooled = scoreOf(scorePatterns(learned, 'moe/vllm/roomy'), 'rotation-incoherence');
  t.true(near(pooled.tries, 20 + 60 / 6 + 20 / 12), `tries ${pooled.tries}`);
  t.true(near(pooled.improvements, 5 + 57 / 6 + 5 / 12), `improvements ${pooled.improvements}`);
  t.is(pooled.evidence, 'other-evolutions');
});

test('scores do not depend on the order of the rows', (t) => {
  const families = [TIGHT, 'moe/vllm/roomy', 'moe/llama.cpp/tight', 'dense/vllm/tight'];
  const row = fc.record({
    pattern: fc.constantFrom(...EVOLUTION_PATTERNS),
    family: fc.constantFrom(...families),
    tries: fc.integer({ min: 0, max: 50 }),
  }).chain((r) =>
    fc.record({
      improvements: fc.integer({ min: 0, max: r.tries }),
      measured: fc.integer({ min: 0, max: r.tries }),
      thisEvolutionTries: fc.integer({ min: 0, max: r.tries }),
      klDeltaSum: fc.double({ min: -10, max: 10, noNaN: true }),
      gbDeltaSum: fc.double({ min: -100, max: 100, noNaN: true }),
    }).map((rest): PatternStat => ({ ...r, ...rest })),
  );
  fc.assert(
    fc.property(fc.array(row, { maxLength: 20 }), fc.constantFrom(...families), (rows, family) => {
      const expected = scorePatterns(rows, family);
      t.deepEqual(scorePatterns([...rows].reverse(), family), expected);
      t.true(expected.every((s) => !Number.isNaN(s.score)));
      // With nothing picked yet, pickPattern agrees with the ranking.
      t.is(pickPattern(expected, new Map()), expected[0].pattern);
    }),
    { seed: SEED, numRuns: 200 },
  );
});

test('updateStats counts the outcome in its row, appends a new row, and leaves its input untouched', (t) => {
  const before = [stat('error-compensation', TIGHT, 3, 1, { klDeltaSum: 0.5, gbDeltaSum: -1, measured: 2, thisEvolutionTries: 1 }), stat('error-compensation', 'moe/vllm/roomy', 7, 2)];
  const frozen = structuredClone(before);
  for (const s of before) Object.freeze(s);
  Object.freeze(before);

  const after = updateStats(before, { pattern: 'error-compensation', family: TIGHT, improved: true, klDelta: -0.25, gbDelta: 2, thisEvolution: true });
  t.deepEqual(before, frozen, 'input unchanged');
  t.not(after, before);
  t.deepEqual(after[0], stat('error-compensation', TIGHT, 4, 2, { klDeltaSum: 0.25, gbDeltaSum: 1, measured: 3, thisEvolutionTries: 2 }));
  t.deepEqual(after[1], before[1]);
  t.not(after[1], before[1], 'rows are copies');

  // Unmeasured KL: a try, no delta; another evolution's child; no improvement.
  const unmeasured = updateStats(after, { pattern: 'error-compensation', family: TIGHT, improved: false, klDelta: null, gbDelta: 3, thisEvolution: false });
  t.deepEqual(unmeasured[0], stat('error-compensation', TIGHT, 5, 2, { klDeltaSum: 0.25, gbDeltaSum: 1, measured: 3, thisEvolutionTries: 2 }));

  // A (pattern, family) not yet seen: a new row at the end.
  const added = updateStats(before, { pattern: 'pruning-merging', family: 'dense/vllm/roomy', improved: true, klDelta: 0.1, gbDelta: -4, thisEvolution: false });
  t.is(added.length, 3);
  t.deepEqual(added[2], stat('pruning-merging', 'dense/vllm/roomy', 1, 1, { klDeltaSum: 0.1, gbDeltaSum: -4, measured: 1 }));

  // Through scorePatterns: an improvement raises the pattern's mean where it was counted.
  const rate = (rows: PatternStat[]): number => {
    const s = scoreOf(scorePatterns(rows, TIGHT, { pooling: 0 }), 'error-compensation');
    return s.improvements / s.tries;
  };
  t.true(rate(after) > rate(before));
  t.is(scoreOf(scorePatterns(after, TIGHT), 'error-compensation').evidence, 'this-evolution');
});

test('pickPattern spreads one generation: untried patterns in turn, then a virtual loss per pick', (t) => {
  const generation = (scores: PatternScore[], n: number): EvolutionPattern[] => {
    const used = new Map<EvolutionPattern, number>();
    const picks: EvolutionPattern[] = [];
    for (let i = 0; i < n; i++) {
      const p = pickPattern(scores, used);
      picks.push(p);
      used.set(p, (used.get(p) ?? 0) + 1);
    }
    return picks;
  };
  // Nothing known: eight children try the eight patterns.
  t.deepEqual(generation(scorePatterns([], TIGHT), 8), [...EVOLUTION_PATTERNS]);

  // Two patterns: 6/10 leads 1/5 (1.3359 > 1.2408); one pick of it: 6/11 + √(2 ln 16/11) = 1.25546 still
  // leads 1/5 + √(2 ln 16/5) = 1.25311; a second pick: 6/12 + √(2 ln 17/12) = 1.18717 < 1.26456.
  const two = scorePatterns([stat('error-compensation', TIGHT, 10, 6), stat('activation-awareness', TIGHT, 5, 1)], TIGHT).filter((s) => s.tries > 0);
  t.deepEqual(generation(two, 3), ['error-compensation', 'error-compensation', 'activation-awareness']);

  // A leader (8/20 against 4/20) takes picks until its virtual losses bring it below the others:
  // after 6, 8/26 + √(2 ln 166/26) = 0.9348 > 1/5 + √(2 ln 166/20) = 0.9150; after 7,
  // 8/27 + √(2 ln 167/27) = 0.9120 < 0.9154; then the others in turn.
  const strong = scorePatterns(EVOLUTION_PATTERNS.map((p, i) => stat(p, TIGHT, 20, i === 5 ? 8 : 4)), TIGHT);
  const picks = generation(strong, 12);
  t.deepEqual(picks, [...Array<EvolutionPattern>(7).fill('learned-rounding'), ...EVOLUTION_PATTERNS.slice(0, 5)]);
  t.deepEqual(generation(strong, 12), picks, 'deterministic');
});

test('bad statistics are refused with one clear line', (t) => {
  t.throws(() => scorePatterns([stat('error-compensation', TIGHT, Number.NaN, 0)], TIGHT), { instanceOf: RangeError, message: /tries must be finite/ });
  t.throws(() => scorePatterns([stat('error-compensation', TIGHT, 2, 3)], TIGHT), { message: /improvements \(3\) exceeds tries \(2\)/ });
  t.throws(() => scorePatterns([stat('error-compensation', TIGHT, 2, 1, { klDeltaSum: Number.NaN })], TIGHT), { message: /klDeltaSum must be finite/ });
  t.throws(() => scorePatterns([stat('nope' as EvolutionPattern, TIGHT, 1, 0)], TIGHT), { message: /unknown pattern/ });
  t.throws(() => scorePatterns([], TIGHT, { pooling: 2 }), { message: /pooling must be in \[0, 1\]/ });
  t.throws(() => updateStats([], { pattern: 'error-compensation', family: TIGHT, improved: true, klDelta: Number.NaN, gbDelta: 1, thisEvolution: true }), { message: /klDelta must be finite or null/ });
  t.throws(() => pickPattern([], new Map()), { message: /no pattern to pick from/ });
  const scores = scorePatterns([], TIGHT);
  t.throws(() => pickPattern([...scores, scores[0]], new Map()), { message: /scored twice/ });
  t.throws(() => pickPattern(scores, new Map([['error-compensation', -1]])), { message: /used count/ });
});
