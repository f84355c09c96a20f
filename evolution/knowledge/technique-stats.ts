// Success statistics of each technique across every evolution: children it produced (tries)
// and children that improved over their parent (improvements). The proposer's UCB reads these.
import { sql } from 'kysely';
import type { DbOrTrx } from '../../engine/db/connection.js';
import type { TechniqueStats } from '../proposer/propose.js';

export async function techniqueStats(db: DbOrTrx): Promise<Record<string, TechniqueStats>> {
  const rows = await db
    .selectFrom('ekg_edge as applied')
    .innerJoin('ekg_node as technique', 'technique.id', 'applied.dst')
    .leftJoin('ekg_edge as improved', (join) => join.onRef('improved.src', '=', 'applied.src').on('improved.kind', '=', 'improved-over'))
    .where('applied.kind', '=', 'applies-pattern')
    .where('technique.kind', '=', 'technique')
    .select([
      sql<string>`technique.payload->>'technique'`.as('technique'),
      sql<number>`count(distinct applied.src)::int`.as('tries'),
      sql<number>`count(distinct improved.src)::int`.as('improvements'),
    ])
    .groupBy(sql`technique.payload->>'technique'`)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.technique, { tries: r.tries, improvements: r.improvements }]));
}
