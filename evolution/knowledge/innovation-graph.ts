// The innovations as the scout reasons over them (evolution/agents/innovation-graph.ts), read back
// from the knowledge graph (not from the seed file): what is in the graph is what the agents know, including what earlier evolutions added.
import { z } from 'zod';
import type { DbOrTrx } from '../../engine/db/connection.js';
import { EvolutionPattern, InnovationGenes } from '../../schema/innovation.js';
import type { GraphDerivation, GraphInnovation, InnovationGraph } from '../agents/innovation-graph.js';

const InnovationPayload = z.looseObject({
  innovation: z.string(),
  year: z.number().int(),
  keyIdea: z.string(),
  patterns: z.array(EvolutionPattern),
  executable: z.boolean(),
  genes: InnovationGenes.nullable(),
});

const PREFIX = 'innovation:';
const idOf = (nodeId: string): string => nodeId.slice(PREFIX.length);

export async function loadInnovationGraph(db: DbOrTrx): Promise<InnovationGraph> {
  const nodes = await db.selectFrom('ekg_node').select(['id', 'name', 'payload']).where('kind', '=', 'innovation').orderBy('id').execute();
  const innovations = new Map<string, GraphInnovation>();
  for (const n of nodes) {
    const p = InnovationPayload.safeParse(n.payload);
    // A node written by a newer evoquant with another shape is skipped, not fatal.
    if (!p.success) continue;
    innovations.set(p.data.innovation, { id: p.data.innovation, name: n.name, year: p.data.year, keyIdea: p.data.keyIdea, patterns: p.data.patterns, executable: p.data.executable, genes: p.data.genes, operators: [] });
  }
  const edges = await db
    .selectFrom('ekg_edge as e')
    .innerJoin('ekg_node as dst', 'dst.id', 'e.dst')
    .select(['e.src', 'e.dst', 'e.kind', 'e.payload', 'dst.payload as dst_payload'])
    .where('e.src', 'like', `${PREFIX}%`)
    .where('e.kind', 'in', ['derived-from', 'implemented-by'])
    .orderBy('e.src')
    .orderBy('e.dst')
    .execute();
  const derivations: GraphDerivation[] = [];
  for (const e of edges) {
    const to = innovations.get(idOf(e.src));
    if (!to) continue;
    if (e.kind === 'implemented-by') {
      const technique = e.dst_payload.technique;
      if (typeof technique === 'string') to.operators.push(technique);
    } else if (e.dst.startsWith(PREFIX) && innovations.has(idOf(e.dst))) {
      const pattern = EvolutionPattern.safeParse(e.payload.pattern);
      derivations.push({ from: idOf(e.dst), to: to.id, pattern: pattern.success ? pattern.data : null });
    }
  }
  return { innovations, derivations };
}
