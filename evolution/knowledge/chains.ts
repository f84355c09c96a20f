// Chains of thought in the knowledge graph: one node per generation's chain (its payload is the
// chain itself), `cites` edges to the innovations its steps follow, and `reasoned-by` edges from the
// children proposed from it (with the operation and the step each followed).
import { getNode, neighboursOut, upsertEdge, upsertNode } from '../../engine/db/ekg.js';
import type { DbOrTrx } from '../../engine/db/connection.js';
import { ChainOfThought, type ArchitectProposal } from '../../schema/agents.js';
import type { JsonObject } from '../../schema/db.js';
import { candidateNodeId } from './record-outcome.js';
import { innovationNodeId } from './seed-innovations.js';

export async function saveChain(db: DbOrTrx, chain: ChainOfThought): Promise<void> {
  await upsertNode(db, { id: chain.id, kind: 'chain-of-thought', name: `${chain.evolutionId} generation ${chain.generation}`, payload: JSON.parse(JSON.stringify(chain)) as JsonObject });
  for (const id of new Set(chain.steps.map((s) => s.innovation))) {
    if (await getNode(db, innovationNodeId(id))) await upsertEdge(db, { src: chain.id, dst: innovationNodeId(id), kind: 'cites' });
  }
}

export async function loadChain(db: DbOrTrx, id: string): Promise<ChainOfThought | null> {
  const node = await getNode(db, id);
  if (!node || node.kind !== 'chain-of-thought') return null;
  const parsed = ChainOfThought.safeParse(node.payload);
  return parsed.success ? parsed.data : null;
}

/** The child's reasoned-by edge (the candidate node must exist). */
export async function linkReasoning(db: DbOrTrx, chainId: string, p: ArchitectProposal): Promise<void> {
  await upsertEdge(db, { src: candidateNodeId(p.id), dst: chainId, kind: 'reasoned-by', payload: { operation: p.operation, step: p.step } });
}

export interface Reasoning {
  chain: ChainOfThought;
  operation: string | null;
  step: number | null;
}

/** The chain a candidate was proposed from, with how it was made; null for a candidate with none. */
export async function reasoningOf(db: DbOrTrx, candidateId: string): Promise<Reasoning | null> {
  const edge = (await neighboursOut(db, candidateNodeId(candidateId), { kinds: ['reasoned-by'] }))[0];
  if (!edge) return null;
  const chain = await loadChain(db, edge.node.id);
  if (!chain) return null;
  const { operation, step } = edge.edge.payload;
  return { chain, operation: typeof operation === 'string' ? operation : null, step: typeof step === 'number' ? step : null };
}
