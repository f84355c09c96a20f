// Operator choice as a bandit over the evolution patterns' statistics in the knowledge graph:
// UCB1 (Auer, Cesa-Bianchi, Fischer 2002, "Finite-time analysis of the multiarmed bandit problem")
// with one arm per pattern, where an arm's pull is a child that applied the pattern and its reward
// is whether the child improved over its parent.
//
// What one evolution learns is in the graph for the next, across targets: the counts of other
// target families are pooled in, weighted by pooling × familySimilarity. This is partial pooling,
// a heuristic in the spirit of hierarchical bandits (the arms of related tasks share a prior), not
// a Bayesian hierarchical model: a similar family's tries count as a fraction of a try here.
//
// Pure and deterministic: results go into Temporal history.
import { EVOLUTION_PATTERNS, type EvolutionPattern } from '../../schema/innovation.js';

export interface PatternStat {
  pattern: EvolutionPattern;
  /** Target family, e.g. 'moe/vllm/tight' (opaque except for familySimilarity). */
  family: string;
  /** Children that applied the pattern. */
  tries: number;
  /** Of which improved over their parent. */
  improvements: number;
  /** Sum of (child kl − parent kl) over measured tries. */
  klDeltaSum: number;
  /** Sum of (child GB/GPU − parent GB/GPU) over measured tries. */
  gbDeltaSum: number;
  /** Tries with both deltas measured (the means' denominator). */
  measured: number;
  /** Of `tries`, those from the evolution asking. */
  thisEvolutionTries: number;
}

export interface PatternScore {
  pattern: EvolutionPattern;
  /** UCB1 on the pooled counts; +Infinity for an untried pattern. */
  score: number;
  /** Pooled (fractional when other families contribute). */
  tries: number;
  improvements: number;
  meanKlDelta: number | null;
  meanGbDelta: number | null;
  evidence: 'this-evolution' | 'other-evolutions' | 'none';
}

export interface PatternOutcome {
  pattern: EvolutionPattern;
  family: string;
  improved: boolean;
  /** child kl − parent kl, null when either is unmeasured. */
  klDelta: number | null;
  /** child GB/GPU − parent GB/GPU, null when unknown. */
  gbDelta: number | null;
  /** Whether the child belongs to the evolution that will read these statistics. */
  thisEvolution: boolean;
}

export interface BanditOptions {
  /** Weight of other families' counts (times their similarity), in [0, 1]. Default 0.5. */
  pooling?: number;
  /** UCB's exploration constant c in mean + c·√(ln N / n). Default √2 (UCB1's √(2 ln N / n)). */
  exploration?: number;
}

export const DEFAULT_POOLING = 0.5;
export const DEFAULT_EXPLORATION = Math.SQRT2;

const PATTERN_ORDER: ReadonlyMap<EvolutionPattern, number> = new Map(EVOLUTION_PATTERNS.map((p, i) => [p, i]));

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * 1 for the same family; otherwise 0.5 × the fraction of leading '/'-segments the two share
 * (of the longer one), so 'moe/vllm/tight' and 'moe/vllm/roomy' are 1/3 alike, 'moe/vllm/tight'
 * and 'dense/vllm/tight' not at all: a family's segments go from the most to the least decisive.
 */
export function familySimilarity(a: string, b: string): number {
  if (a === b) return 1;
  const sa = a.split('/');
  const sb = b.split('/');
  let shared = 0;
  while (shared < sa.length && shared < sb.length && sa[shared] === sb[shared]) shared++;
  return (0.5 * shared) / Math.max(sa.length, sb.length);
}

/** UCB1 index: mean reward plus c·√(ln N / n); +Infinity for an arm never pulled. */
export function ucb1(improvements: number, tries: number, totalTries: number, exploration: number = DEFAULT_EXPLORATION): number {
  if (tries <= 0) return Number.POSITIVE_INFINITY;
  // ln of less than one pull would be negative: pooled fractions can sum below 1.
  return improvements / tries + exploration * Math.sqrt(Math.log(Math.max(1, totalTries)) / tries);
}

function nonNegative(value: number, what: string): void {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${what} must be finite and ≥ 0, got ${value}`);
}

function validateStat(s: PatternStat, i: number): void {
  const at = `pattern stat ${i} (${String(s.pattern)} on ${JSON.stringify(s.family)})`;
  if (!PATTERN_ORDER.has(s.pattern)) throw new RangeError(`${at}: unknown pattern`);
  if (typeof s.family !== 'string') throw new RangeError(`${at}: family must be a string`);
  for (const key of ['tries', 'improvements', 'measured', 'thisEvolutionTries'] as const) nonNegative(s[key], `${at}: ${key}`);
  for (const key of ['klDeltaSum', 'gbDeltaSum'] as const) {
    if (!Number.isFinite(s[key])) throw new RangeError(`${at}: ${key} must be finite, got ${s[key]}`);
  }
  for (const key of ['improvements', 'measured', 'thisEvolutionTries'] as const) {
    if (s[key] > s.tries) throw new RangeError(`${at}: ${key} (${s[key]}) exceeds tries (${s.tries})`);
  }
}

function resolveOptions(options: BanditOptions | undefined): { pooling: number; exploration: number } {
  const pooling = options?.pooling ?? DEFAULT_POOLING;
  const exploration = options?.exploration ?? DEFAULT_EXPLORATION;
  if (!Number.isFinite(pooling) || pooling < 0 || pooling > 1) throw new RangeError(`pooling must be in [0, 1], got ${pooling}`);
  nonNegative(exploration, 'exploration');
  return { pooling, exploration };
}

/** A total order on a row's contents (rows equal in every field are interchangeable). */
function compareRows(a: PatternStat, b: PatternStat): number {
  const numbers = ['tries', 'improvements', 'measured', 'thisEvolutionTries', 'klDeltaSum', 'gbDeltaSum'] as const;
  let c = compareIds(a.family, b.family) || PATTERN_ORDER.get(a.pattern)! - PATTERN_ORDER.get(b.pattern)!;
  for (const key of numbers) c = c || (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0);
  return c;
}

/** Highest score first; equal scores (two untried patterns) in EVOLUTION_PATTERNS order. */
function byScore(a: { pattern: EvolutionPattern; score: number }, b: { pattern: EvolutionPattern; score: number }): number {
  if (a.score !== b.score) return a.score > b.score ? -1 : 1;
  return PATTERN_ORDER.get(a.pattern)! - PATTERN_ORDER.get(b.pattern)!;
}

/** One score per pattern of EVOLUTION_PATTERNS for the target family, highest first. */
export function scorePatterns(stats: readonly PatternStat[], family: string, options?: BanditOptions): PatternScore[] {
  stats.forEach(validateStat);
  const { pooling, exploration } = resolveOptions(options);
  const pooled = new Map(EVOLUTION_PATTERNS.map((p) => [p, { tries: 0, improvements: 0, kl: 0, gb: 0, measured: 0, thisEvolution: 0 }]));
  // Summed in one canonical order of the rows' contents, so that a reordered list of the same rows
  // gives bit-identical floating-point sums.
  for (const s of [...stats].sort(compareRows)) {
    const weight = s.family === family ? 1 : pooling * familySimilarity(s.family, family);
    if (weight === 0) continue;
    const acc = pooled.get(s.pattern)!;
    acc.tries += weight * s.tries;
    acc.improvements += weight * s.improvements;
    acc.kl += weight * s.klDeltaSum;
    acc.gb += weight * s.gbDeltaSum;
    acc.measured += weight * s.measured;
    acc.thisEvolution += weight * s.thisEvolutionTries;
  }
  const total = [...pooled.values()].reduce((sum, acc) => sum + acc.tries, 0);
  return EVOLUTION_PATTERNS.map((pattern): PatternScore => {
    const acc = pooled.get(pattern)!;
    return {
      pattern,
      score: ucb1(acc.improvements, acc.tries, total, exploration),
      tries: acc.tries,
      improvements: acc.improvements,
      meanKlDelta: acc.measured > 0 ? acc.kl / acc.measured : null,
      meanGbDelta: acc.measured > 0 ? acc.gb / acc.measured : null,
      evidence: acc.thisEvolution > 0 ? 'this-evolution' : acc.tries > 0 ? 'other-evolutions' : 'none',
    };
  }).sort(byScore);
}

/** A new list with the outcome counted in its (pattern, family) row, appended when there is none. */
export function updateStats(stats: readonly PatternStat[], outcome: PatternOutcome): PatternStat[] {
  if (!PATTERN_ORDER.has(outcome.pattern)) throw new RangeError(`outcome: unknown pattern ${String(outcome.pattern)}`);
  if (typeof outcome.family !== 'string') throw new RangeError('outcome: family must be a string');
  for (const key of ['klDelta', 'gbDelta'] as const) {
    const v = outcome[key];
    if (v !== null && !Number.isFinite(v)) throw new RangeError(`outcome: ${key} must be finite or null (unmeasured), got ${v}`);
  }
  const measured = outcome.klDelta !== null && outcome.gbDelta !== null;
  const count = (row: PatternStat): PatternStat => ({
    ...row,
    tries: row.tries + 1,
    improvements: row.improvements + (outcome.improved ? 1 : 0),
    klDeltaSum: row.klDeltaSum + (measured ? outcome.klDelta! : 0),
    gbDeltaSum: row.gbDeltaSum + (measured ? outcome.gbDelta! : 0),
    measured: row.measured + (measured ? 1 : 0),
    thisEvolutionTries: row.thisEvolutionTries + (outcome.thisEvolution ? 1 : 0),
  });
  const at = stats.findIndex((s) => s.pattern === outcome.pattern && s.family === outcome.family);
  if (at >= 0) return stats.map((s, i) => (i === at ? count(s) : { ...s }));
  const empty: PatternStat = { pattern: outcome.pattern, family: outcome.family, tries: 0, improvements: 0, klDeltaSum: 0, gbDeltaSum: 0, measured: 0, thisEvolutionTries: 0 };
  return [...stats.map((s) => ({ ...s })), count(empty)];
}

/**
 * The pattern to apply next: the highest UCB1 index once this generation's picks (`used`) count as
 * extra tries that did not improve (a "virtual loss", as parallel Monte-Carlo tree search uses for
 * pulls whose outcome is pending), so one generation spreads over the patterns instead of repeating
 * the leader. Ties go to the earlier pattern of EVOLUTION_PATTERNS. With `used` empty and the
 * same exploration, it picks the highest score of scorePatterns.
 */
export function pickPattern(scores: readonly PatternScore[], used: ReadonlyMap<EvolutionPattern, number>, options?: Pick<BanditOptions, 'exploration'>): EvolutionPattern {
  if (scores.length === 0) throw new RangeError('pickPattern: no pattern to pick from');
  const { exploration } = resolveOptions(options);
  const seen = new Set<EvolutionPattern>();
  for (const s of scores) {
    if (!PATTERN_ORDER.has(s.pattern)) throw new RangeError(`pickPattern: unknown pattern ${String(s.pattern)}`);
    if (seen.has(s.pattern)) throw new RangeError(`pickPattern: pattern ${s.pattern} scored twice`);
    seen.add(s.pattern);
    nonNegative(s.tries, `pickPattern: ${s.pattern} tries`);
    nonNegative(s.improvements, `pickPattern: ${s.pattern} improvements`);
  }
  for (const [pattern, n] of used) nonNegative(n, `pickPattern: used count of ${pattern}`);
  const tries = (s: PatternScore): number => s.tries + (used.get(s.pattern) ?? 0);
  const total = scores.reduce((sum, s) => sum + tries(s), 0);
  const ranked = scores.map((s) => ({ pattern: s.pattern, score: ucb1(s.improvements, tries(s), total, exploration) })).sort(byScore);
  return ranked[0].pattern;
}
