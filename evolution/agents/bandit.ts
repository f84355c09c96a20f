// INTERIM (replaced by the curator/bandit helper's module at merge): the signatures the agents use.
import { EVOLUTION_PATTERNS, type EvolutionPattern } from '../../schema/innovation.js';

export interface PatternStat {
  pattern: EvolutionPattern;
  family: string;
  tries: number;
  improvements: number;
  klDeltaSum: number;
  gbDeltaSum: number;
  measured: number;
  thisEvolutionTries: number;
}
export interface PatternScore {
  pattern: EvolutionPattern;
  score: number;
  tries: number;
  improvements: number;
  meanKlDelta: number | null;
  meanGbDelta: number | null;
  evidence: 'this-evolution' | 'other-evolutions' | 'none';
}
export function scorePatterns(stats: readonly PatternStat[], family: string): PatternScore[] {
  const total = stats.reduce((s, x) => s + x.tries, 0);
  return EVOLUTION_PATTERNS.map((pattern) => {
    const mine = stats.filter((s) => s.pattern === pattern);
    const w = (s: PatternStat): number => (s.family === family ? 1 : 0.5);
    const tries = mine.reduce((a, s) => a + w(s) * s.tries, 0);
    const improvements = mine.reduce((a, s) => a + w(s) * s.improvements, 0);
    const measured = mine.reduce((a, s) => a + w(s) * s.measured, 0);
    const score = tries === 0 ? Number.POSITIVE_INFINITY : improvements / tries + Math.sqrt((2 * Math.log(Math.max(1, total))) / tries);
    return {
      pattern,
      score,
      tries,
      improvements,
      meanKlDelta: measured > 0 ? mine.reduce((a, s) => a + w(s) * s.klDeltaSum, 0) / measured : null,
      meanGbDelta: measured > 0 ? mine.reduce((a, s) => a + w(s) * s.gbDeltaSum, 0) / measured : null,
      evidence: mine.some((s) => s.thisEvolutionTries > 0) ? 'this-evolution' : tries > 0 ? 'other-evolutions' : 'none',
    } satisfies PatternScore;
  }).sort((a, b) => b.score - a.score);
}
