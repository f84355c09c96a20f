// The scout: from the knowledge graph and the current frontier to an algorithmic chain of thought.
// Pure. It finds what the frontier already applies (patterns read from its genes), follows the
// graph's derivation edges from innovations those patterns cover to innovations that add a pattern
// the frontier lacks ("advance" steps), adds executable innovations whose pattern the frontier
// already applies but with another operator ("deepen" steps), drops what the target's stack cannot
// serve, and ranks the steps by the bandit's score of their pattern on similar targets.
import type { ChainOfThought, ChainStep, AgentGuidance } from '../../schema/agents.js';
import { EVOLUTION_PATTERNS, type EvolutionPattern } from '../../schema/innovation.js';
import type { Recipe } from '../../schema/recipe.js';
import type { GraphInnovation, InnovationGraph } from './innovation-graph.js';
import type { PatternScore } from './bandit.js';
import { expectedEffects } from './expected-effect.js';
import { recipePatterns } from './recipe-patterns.js';

/** The bandit's view of one pattern on the target's family. */
export type ScoutPatternScore = PatternScore;

export interface ScoutInput {
  evolutionId: string;
  generation: number;
  family: string;
  guidance: AgentGuidance;
  chainLength: number;
  graph: InnovationGraph;
  frontier: ReadonlyArray<{ id: string; recipe: Recipe }>;
  scores: readonly ScoutPatternScore[];
  /** Whether an innovation's genes are servable on the target's stack and GPU. */
  servable: (innovationId: string) => boolean;
  /** The operators (technique ids) the architect can run. */
  operators: ReadonlySet<string>;
}

export const chainId = (evolutionId: string, generation: number): string => `chain:${evolutionId}/gen-${generation}`;

const MAX_WHY = 400;

function evidenceText(s: ScoutPatternScore | undefined, family: string): string {
  if (!s || s.evidence === 'none' || s.tries === 0) return `untried on ${family}`;
  const where = s.evidence === 'this-evolution' ? 'in this evolution and similar targets' : `in earlier evolutions on targets like ${family}`;
  return `improved ${fmt(s.improvements)} of ${fmt(s.tries)} children ${where}`;
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));

interface Draft {
  innovation: GraphInnovation;
  pattern: EvolutionPattern;
  operator: string;
  from: string[];
  advance: boolean;
}

/** Innovations the frontier already applies: every pattern they need is applied (roots need none). */
function appliedInnovations(graph: InnovationGraph, applied: ReadonlySet<EvolutionPattern>): Set<string> {
  const out = new Set<string>();
  for (const n of graph.innovations.values()) if (n.patterns.every((p) => applied.has(p))) out.add(n.id);
  return out;
}

function drafts(input: ScoutInput, applied: ReadonlySet<EvolutionPattern>): Draft[] {
  const { graph } = input;
  const done = appliedInnovations(graph, applied);
  const usable = (n: GraphInnovation): string | null => (n.executable && input.servable(n.id) ? (n.operators.find((o) => input.operators.has(o)) ?? null) : null);
  const byInnovation = new Map<string, Draft>();
  // Advance: along a derivation edge from what is applied to what adds a missing pattern.
  for (const d of graph.derivations) {
    if (!done.has(d.from) || done.has(d.to)) continue;
    const n = graph.innovations.get(d.to)!;
    const operator = usable(n);
    if (!operator) continue;
    const missing = n.patterns.filter((p) => !applied.has(p));
    const pattern = d.pattern && missing.includes(d.pattern) ? d.pattern : missing[0];
    if (!pattern) continue;
    const prev = byInnovation.get(n.id);
    if (prev) prev.from.push(d.from);
    else byInnovation.set(n.id, { innovation: n, pattern, operator, from: [d.from], advance: true });
  }
  // Deepen an applied pattern by another operator, or open a line no applied idea leads to.
  for (const n of graph.innovations.values()) {
    if (byInnovation.has(n.id) || n.patterns.length === 0) continue;
    const operator = usable(n);
    if (!operator) continue;
    const pattern = n.patterns.find((p) => applied.has(p)) ?? n.patterns[0];
    byInnovation.set(n.id, { innovation: n, pattern, operator, from: [], advance: false });
  }
  return [...byInnovation.values()];
}

function stepOf(d: Draft, score: ScoutPatternScore | undefined, input: ScoutInput & { frontierPatterns: ReadonlySet<EvolutionPattern> }, names: (id: string) => string): ChainStep {
  const n = d.innovation;
  const evidence = evidenceText(score, input.family);
  const why = d.advance
    ? `the frontier applies ${d.from.map(names).join(', ')}; ${n.name} (${n.year}) derives from it by ${d.pattern}: ${n.keyIdea} Evidence: ${evidence}.`
    : input.frontierPatterns.has(d.pattern)
      ? `the frontier already applies ${d.pattern}; ${n.name} (${n.year}) applies it by another move: ${n.keyIdea} Evidence: ${evidence}.`
      : `the frontier does not apply ${d.pattern} yet and no idea it applies leads there; ${n.name} (${n.year}) opens that line: ${n.keyIdea} Evidence: ${evidence}.`;
  return {
    pattern: d.pattern,
    innovation: n.id,
    operator: d.operator,
    from: d.from.slice(0, 8),
    why: why.length > MAX_WHY ? `${why.slice(0, MAX_WHY - 1)}…` : why,
    ...expectedEffects(d.operator, d.pattern, { meanGbDelta: score?.meanGbDelta ?? null, meanKlDelta: score?.meanKlDelta ?? null }),
    score: score === undefined || !Number.isFinite(score.score) ? null : score.score,
    evidence: score?.evidence ?? 'none',
  };
}

const byCode = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The generation's chain of thought. Ablated guidance gets an empty chain: no graph, no reasoning. */
export function extractChain(input: ScoutInput): ChainOfThought {
  const applied = new Set<EvolutionPattern>();
  for (const c of input.frontier) for (const p of recipePatterns(c.recipe)) applied.add(p);
  const base = {
    id: chainId(input.evolutionId, input.generation),
    evolutionId: input.evolutionId,
    generation: input.generation,
    family: input.family,
    guidance: input.guidance,
    frontier: input.frontier.map((c) => c.id).slice(0, 256),
    applied: EVOLUTION_PATTERNS.filter((p) => applied.has(p)),
  };
  if (input.guidance === 'ablated') return { ...base, steps: [] };

  const scores = new Map(input.scores.map((s) => [s.pattern, s]));
  const names = (id: string): string => input.graph.innovations.get(id)?.name ?? id;
  const ranked = drafts(input, applied)
    .map((d) => ({ d, score: scores.get(d.pattern)?.score ?? Number.POSITIVE_INFINITY }))
    // The bandit decides; on ties advancing beats deepening, then the newer idea, then the id.
    .sort((a, b) => b.score - a.score || Number(b.d.advance) - Number(a.d.advance) || b.d.innovation.year - a.d.innovation.year || byCode(a.d.innovation.id, b.d.innovation.id));
  // One step per operator: the chain is a plan of distinct moves.
  const steps: ChainStep[] = [];
  const operators = new Set<string>();
  for (const { d } of ranked) {
    if (steps.length >= input.chainLength) break;
    if (operators.has(d.operator)) continue;
    operators.add(d.operator);
    steps.push(stepOf(d, scores.get(d.pattern), { ...input, frontierPatterns: applied }, names));
  }
  return { ...base, steps };
}
