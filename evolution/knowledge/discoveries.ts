// Discovery nodes: a candidate that beat every manual recipe on its target, with its method card
// (name, genes, the lineage path through the innovations its ancestors' chain steps followed, and
// the measured gains over the best manual recipe at equal memory). `derived-from` edges tie the
// discovery to its candidate and to each innovation on the path (with the pattern applied).
import { z } from 'zod';
import { getCandidate } from '../../engine/db/candidates.js';
import { getNode, upsertEdge, upsertNode } from '../../engine/db/ekg.js';
import type { DbOrTrx } from '../../engine/db/connection.js';
import { EvolutionPattern } from '../../schema/innovation.js';
import type { JsonObject } from '../../schema/db.js';
import { Recipe } from '../../schema/recipe.js';
import { reasoningOf } from './chains.js';
import { candidateNodeId } from './record-outcome.js';
import { innovationNodeId } from './seed-innovations.js';

export const discoveryNodeId = (evolutionId: string, candidateId: string): string => `discovery:${evolutionId}/${candidateId}`;

export const LineageHop = z
  .object({
    candidate: z.string(),
    recipe: z.string(),
    /** How the hop was made (seed, mutate, transfer, crossover, uniform, llm), null for a candidate recorded before the agents. */
    operation: z.string().nullable(),
    innovation: z.string().nullable(),
    pattern: EvolutionPattern.nullable(),
  })
  .strict();
export type LineageHop = z.infer<typeof LineageHop>;

const MeasuredCard = z.object({ id: z.string(), name: z.string(), gbPerGpu: z.number(), kl: z.number(), bitsPerByte: z.number(), top1: z.number() }).strict();

export const MethodCard = z
  .object({
    name: z.string(),
    evolutionId: z.string(),
    candidateId: z.string(),
    family: z.string(),
    target: z.string(),
    genes: Recipe,
    lineage: z.array(LineageHop),
    measured: MeasuredCard,
    gains: z
      .object({
        reference: MeasuredCard,
        klDelta: z.number(),
        bitsPerByteDelta: z.number(),
        top1Delta: z.number(),
        gbPerGpuDelta: z.number(),
        lossReduction: z.number().nullable(),
      })
      .strict(),
  })
  .strict();
export type MethodCard = z.infer<typeof MethodCard>;

/** The candidate's ancestry, oldest first, following first parents (a crossover's first lineage). */
export async function lineagePath(db: DbOrTrx, candidateId: string, maxHops = 64): Promise<LineageHop[]> {
  const hops: LineageHop[] = [];
  let id: string | null = candidateId;
  const seen = new Set<string>();
  while (id !== null && !seen.has(id) && hops.length < maxHops) {
    seen.add(id);
    const row = await getCandidate(db, id);
    if (!row) break;
    const reasoning = await reasoningOf(db, id);
    const step = reasoning && reasoning.step !== null ? reasoning.chain.steps[reasoning.step] : undefined;
    const agents = (await getNode(db, candidateNodeId(id)))?.payload.agents;
    const note = z.looseObject({ operation: z.string(), parents: z.array(z.string()) }).safeParse(agents);
    hops.push({
      candidate: id,
      recipe: Recipe.parse(row.recipe).name,
      operation: note.success ? note.data.operation : (reasoning?.operation ?? null),
      innovation: step?.innovation ?? null,
      pattern: step?.pattern ?? null,
    });
    const parents = note.success ? note.data.parents : row.parent_ids;
    id = parents[0] ?? null;
  }
  return hops.reverse();
}

export async function saveDiscovery(db: DbOrTrx, card: MethodCard): Promise<string> {
  const id = discoveryNodeId(card.evolutionId, card.candidateId);
  await upsertNode(db, { id, kind: 'discovery', name: card.name, payload: JSON.parse(JSON.stringify(MethodCard.parse(card))) as JsonObject });
  await upsertEdge(db, { src: id, dst: candidateNodeId(card.candidateId), kind: 'derived-from', payload: { why: 'the candidate it records' } });
  for (const hop of card.lineage) {
    if (hop.innovation && (await getNode(db, innovationNodeId(hop.innovation)))) {
      await upsertEdge(db, { src: id, dst: innovationNodeId(hop.innovation), kind: 'derived-from', payload: { pattern: hop.pattern } });
    }
  }
  return id;
}

export interface StoredDiscovery {
  id: string;
  card: MethodCard;
}

export async function listDiscoveries(db: DbOrTrx, { evolutionId }: { evolutionId?: string } = {}): Promise<StoredDiscovery[]> {
  let q = db.selectFrom('ekg_node').select(['id', 'payload']).where('kind', '=', 'discovery').where('id', 'like', 'discovery:%/%');
  if (evolutionId !== undefined) q = q.where('id', 'like', `discovery:${evolutionId.replace(/[\\%_]/g, (m) => `\\${m}`)}/%`);
  const rows = await q.orderBy('id').execute();
  return rows.flatMap((r) => {
    const card = MethodCard.safeParse(r.payload);
    return card.success ? [{ id: r.id, card: card.data }] : [];
  });
}
