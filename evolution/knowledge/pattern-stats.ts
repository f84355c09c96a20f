// Each pattern's success statistics per target family, aggregated from the critic's applies-pattern
// edges (child → pattern) across every evolution: what the bandit reads. Derived, never stored, so a
// retried critic cannot count a child twice.
import { sql } from 'kysely';
import type { DbOrTrx } from '../../engine/db/connection.js';
import { EvolutionPattern } from '../../schema/innovation.js';
import type { PatternStat } from '../agents/bandit.js';

export async function patternStats(db: DbOrTrx, evolutionId: string): Promise<PatternStat[]> {
  const rows = await db
    .selectFrom('ekg_edge')
    .where('kind', '=', 'applies-pattern')
    .where('dst', 'like', 'pattern:%')
    .where(sql<boolean>`payload ? 'family'`)
    .select([
      sql<string>`substr(dst, 9)`.as('pattern'),
      sql<string>`payload->>'family'`.as('family'),
      sql<number>`count(*)::int`.as('tries'),
      sql<number>`count(*) filter (where (payload->>'improved')::boolean)::int`.as('improvements'),
      sql<number>`coalesce(sum((payload->>'klDelta')::float8) filter (where payload->>'klDelta' is not null and payload->>'gbDelta' is not null), 0)`.as('kl_delta_sum'),
      sql<number>`coalesce(sum((payload->>'gbDelta')::float8) filter (where payload->>'klDelta' is not null and payload->>'gbDelta' is not null), 0)`.as('gb_delta_sum'),
      sql<number>`count(*) filter (where payload->>'klDelta' is not null and payload->>'gbDelta' is not null)::int`.as('measured'),
      sql<number>`count(*) filter (where payload->>'evolutionId' = ${evolutionId})::int`.as('this_evolution'),
    ])
    .groupBy([sql`substr(dst, 9)`, sql`payload->>'family'`])
    .orderBy(sql`1`)
    .orderBy(sql`2`)
    .execute();
  return rows.flatMap((r) => {
    const pattern = EvolutionPattern.safeParse(r.pattern);
    if (!pattern.success) return [];
    return [{ pattern: pattern.data, family: r.family, tries: r.tries, improvements: r.improvements, klDeltaSum: Number(r.kl_delta_sum), gbDeltaSum: Number(r.gb_delta_sum), measured: r.measured, thisEvolutionTries: r.this_evolution }];
  });
}
