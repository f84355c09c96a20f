// Why a candidate exists: the chain of thought it was proposed from (and the step it followed), its
// parents with their measurements, the innovations along its lineage, its measured effect against its
// first parent, and its discovery card when it is one. Read from Postgres only.
import type { Kysely } from 'kysely';
import { getCandidate } from '../db/candidates.js';
import { getNode } from '../db/ekg.js';
import { getResult } from '../db/results.js';
import type { ChainOfThought, ChainStep } from '../../schema/agents.js';
import type { Database } from '../../schema/db.js';
import { Recipe } from '../../schema/recipe.js';
import { reasoningOf } from '../../evolution/knowledge/chains.js';
import { discoveryNodeId, lineagePath, MethodCard, type LineageHop } from '../../evolution/knowledge/discoveries.js';
import { candidateNodeId } from '../../evolution/knowledge/record-outcome.js';
import { EngineRequestError } from './errors.js';

export interface Measurement {
  gbPerGpu: number;
  fits: boolean;
  kl: number;
  bitsPerByte: number;
  top1: number;
}

export interface ExplainedParent {
  id: string;
  recipe: string;
  status: string;
  measurement: Measurement | null;
}

export interface Explanation {
  candidate: { id: string; evolutionId: string; generation: number; recipe: Recipe; status: string; measurement: Measurement | null };
  operation: string | null;
  technique: string | null;
  /** The physicist's note: refused why, or repaired how. */
  physicist: { decision: string | null; reason: string | null; repair: string | null };
  chain: ChainOfThought | null;
  step: (ChainStep & { index: number }) | null;
  parents: ExplainedParent[];
  lineage: LineageHop[];
  /** Innovations on the lineage path, oldest first, without repeats. */
  innovations: string[];
  /** Against the first parent, where both are measured. */
  effect: { klDelta: number; gbPerGpuDelta: number; top1Delta: number; bitsPerByteDelta: number } | null;
  discovery: MethodCard | null;
}

async function measurementOf(db: Kysely<Database>, id: string): Promise<Measurement | null> {
  const m = (await getResult(db, id))?.metrics;
  return m ? { gbPerGpu: m.gb_per_gpu, fits: m.fits, kl: m.kl, bitsPerByte: m.bits_per_byte, top1: m.top1 } : null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export async function explainCandidate(db: Kysely<Database>, arg: string): Promise<Explanation> {
  const id = arg.startsWith('candidate:') ? arg.slice('candidate:'.length) : arg;
  const row = await getCandidate(db, id);
  if (!row) throw new EngineRequestError(`candidate ${id} not found`);
  const node = await getNode(db, candidateNodeId(id));
  const agents = node?.payload.agents;
  const note = agents && typeof agents === 'object' && !Array.isArray(agents) ? agents : {};
  const repair = note.repair && typeof note.repair === 'object' && !Array.isArray(note.repair) ? note.repair : null;
  const reasoning = await reasoningOf(db, id);
  const stepIndex = reasoning?.step ?? null;
  const step = reasoning && stepIndex !== null && reasoning.chain.steps[stepIndex] ? { ...reasoning.chain.steps[stepIndex], index: stepIndex } : null;
  const parentIds = Array.isArray(note.parents) ? note.parents.filter((p): p is string => typeof p === 'string') : row.parent_ids;
  const parents: ExplainedParent[] = [];
  for (const pid of parentIds) {
    const prow = await getCandidate(db, pid);
    parents.push({ id: pid, recipe: prow ? Recipe.parse(prow.recipe).name : '?', status: prow?.status ?? 'unknown', measurement: await measurementOf(db, pid) });
  }
  const measurement = await measurementOf(db, id);
  const first = parents[0]?.measurement ?? null;
  const lineage = await lineagePath(db, id);
  const discoveryNode = await getNode(db, discoveryNodeId(row.evolution_id, id));
  const card = discoveryNode ? MethodCard.safeParse(discoveryNode.payload) : null;
  return {
    candidate: { id, evolutionId: row.evolution_id, generation: row.generation, recipe: Recipe.parse(row.recipe), status: row.status, measurement },
    operation: str(note.operation) ?? reasoning?.operation ?? null,
    technique: str(note.technique),
    physicist: { decision: str(note.decision), reason: str(note.reason), repair: repair ? str(repair.how) : null },
    chain: reasoning?.chain ?? null,
    step,
    parents,
    lineage,
    innovations: [...new Set(lineage.flatMap((h) => (h.innovation ? [h.innovation] : [])))],
    effect: measurement && first ? { klDelta: measurement.kl - first.kl, gbPerGpuDelta: measurement.gbPerGpu - first.gbPerGpu, top1Delta: measurement.top1 - first.top1, bitsPerByteDelta: measurement.bitsPerByte - first.bitsPerByte } : null,
    discovery: card?.success ? card.data : null,
  };
}

const sci = (x: number): string => x.toExponential(2);
const signed = (x: number, digits = 2): string => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
const fmtMeasurement = (m: Measurement | null): string => (m ? `${m.gbPerGpu.toFixed(1)} GB/GPU${m.fits ? '' : ' (does not fit)'}, KL ${sci(m.kl)}, ${m.bitsPerByte.toFixed(4)} bits/byte, top-1 ${(100 * m.top1).toFixed(2)}%` : 'not measured');

/** One step of a chain as a line: `2. error-compensation via GPTQ (gptq): why… [memory same, loss less]`. */
export function formatStep(s: ChainStep, index: number): string {
  const score = s.score === null ? 'untried' : `score ${s.score.toFixed(2)}`;
  return `${index + 1}. ${s.pattern} — ${s.innovation} by operator ${s.operator} (${score}; expects memory ${s.memory.direction}, loss ${s.loss.direction}): ${s.why}`;
}

export function formatChain(chain: ChainOfThought, highlight: number | null = null): string[] {
  const lines = [`chain of thought ${chain.id} (${chain.guidance}, family ${chain.family}); the frontier applies: ${chain.applied.join(', ') || 'no pattern yet'}`];
  if (chain.steps.length === 0) lines.push('  (no steps: the graph was ablated or nothing applicable was found)');
  chain.steps.forEach((s, i) => lines.push(`  ${i === highlight ? '→' : ' '} ${formatStep(s, i)}`));
  return lines;
}

export function formatExplanation(e: Explanation): string[] {
  const c = e.candidate;
  const lines = [
    `${c.id} — ${c.recipe.name} (evolution ${c.evolutionId}, generation ${c.generation}, ${c.status})`,
    `  measured: ${fmtMeasurement(c.measurement)}`,
    `  made by: ${e.operation ?? 'unknown'}${e.technique ? ` with operator ${e.technique}` : ''}${e.physicist.repair ? `; repaired by the physicist: ${e.physicist.repair}` : ''}${e.physicist.decision === 'refused' ? `; refused by the physicist: ${e.physicist.reason}` : ''}`,
  ];
  if (e.step) lines.push(`  step followed: ${formatStep(e.step, e.step.index)}`);
  lines.push(e.parents.length === 0 ? '  parents: none (a seed)' : '  parents:');
  for (const p of e.parents) lines.push(`    ${p.id} — ${p.recipe} (${p.status}): ${fmtMeasurement(p.measurement)}`);
  if (e.effect) lines.push(`  effect against ${e.parents[0].id}: KL ${signed(e.effect.klDelta, 5)}, ${signed(e.effect.gbPerGpuDelta)} GB/GPU, top-1 ${signed(100 * e.effect.top1Delta)} pts, ${signed(e.effect.bitsPerByteDelta, 4)} bits/byte`);
  lines.push(`  innovations applied along its lineage: ${e.innovations.join(' → ') || 'none recorded'}`);
  lines.push('  lineage (oldest first):');
  for (const h of e.lineage) lines.push(`    ${h.operation ?? '?'}: ${h.recipe}${h.innovation ? ` — ${h.innovation} (${h.pattern})` : ''}`);
  if (e.chain) lines.push(...formatChain(e.chain, e.step?.index ?? null).map((l) => `  ${l}`));
  if (e.discovery) lines.push(`  discovery: ${e.discovery.name} — ${formatGains(e.discovery)}`);
  return lines;
}

export function formatGains(card: MethodCard): string {
  const g = card.gains;
  const reduction = g.lossReduction === null ? '' : `, ${(100 * g.lossReduction).toFixed(1)}% less Δ bits/byte vs bf16`;
  return `beats ${g.reference.name} (${g.reference.gbPerGpu.toFixed(1)} GB/GPU) by KL ${signed(g.klDelta, 5)}, bits/byte ${signed(g.bitsPerByteDelta, 4)}, top-1 ${signed(100 * g.top1Delta)} pts at ${signed(g.gbPerGpuDelta)} GB/GPU${reduction}`;
}
