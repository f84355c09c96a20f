// The critic activity: writes what the generation's children taught into the knowledge graph —
// improved-over or failed-because with the failure class, and each applied pattern's evidence for
// the target family — and returns the updated statistics of the patterns on that family.
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { getCandidate } from '../../engine/db/candidates.js';
import { getNode } from '../../engine/db/ekg.js';
import { ArchitectOperation } from '../../schema/agents.js';
import type { Database } from '../../schema/db.js';
import type { EvolutionConfig } from '../../schema/evolution-config.js';
import { Recipe } from '../../schema/recipe.js';
import { scorePatterns, type PatternScore } from '../../evolution/agents/bandit.js';
import { critique, type Outcome } from '../../evolution/agents/critic.js';
import { targetFamily } from '../../evolution/agents/target-family.js';
import { reasoningOf } from '../../evolution/knowledge/chains.js';
import { writeCritique } from '../../evolution/knowledge/critiques.js';
import { patternStats } from '../../evolution/knowledge/pattern-stats.js';
import { candidateNodeId } from '../../evolution/knowledge/record-outcome.js';

export interface CriticDeps {
  db: Kysely<Database>;
}

export interface CriticRequest {
  evolutionId: string;
  generation: number;
  config: EvolutionConfig;
  candidateIds: string[];
}

export interface CriticResult {
  family: string;
  improved: number;
  failed: number;
  /** The patterns' scores on the family after this generation's evidence. */
  scores: PatternScore[];
}

const NodeOutcome = z.looseObject({
  status: z.enum(['proposed', 'rejected', 'evaluated', 'failed', 'infeasible']),
  fits: z.boolean().nullable().optional(),
  gbPerGpu: z.number().nullable().optional(),
  kl: z.number().nullable().optional(),
  violations: z.array(z.string()).optional(),
  failure: z.string().nullable().optional(),
  error: z.string().nullable().optional(),
  agents: z.looseObject({ operation: ArchitectOperation, parents: z.array(z.string()), technique: z.string().nullable() }).optional(),
});
type NodeOutcome = z.infer<typeof NodeOutcome>;

const outcomeOf = (p: NodeOutcome): Outcome => ({ status: p.status, fits: p.fits ?? null, gbPerGpu: p.gbPerGpu ?? null, kl: p.kl ?? null });

export function createCritic({ db }: CriticDeps) {
  return {
    async critic({ evolutionId, config, candidateIds }: CriticRequest): Promise<CriticResult> {
      const family = targetFamily(config.target);
      let improved = 0;
      let failed = 0;
      await db.transaction().execute(async (trx) => {
        for (const id of candidateIds) {
          const row = await getCandidate(trx, id);
          const node = NodeOutcome.safeParse((await getNode(trx, candidateNodeId(id)))?.payload);
          if (!row || !node.success) continue;
          const parentIds = node.data.agents?.parents ?? row.parent_ids;
          const parents = [];
          for (const pid of parentIds) {
            const prow = await getCandidate(trx, pid);
            const pnode = NodeOutcome.safeParse((await getNode(trx, candidateNodeId(pid)))?.payload);
            if (prow && pnode.success) parents.push({ id: pid, recipe: Recipe.parse(prow.recipe), outcome: outcomeOf(pnode.data) });
          }
          const reasoning = await reasoningOf(trx, id);
          const step = reasoning && reasoning.step !== null ? (reasoning.chain.steps[reasoning.step] ?? null) : null;
          const failures = [...(node.data.violations ?? []), ...(node.data.failure ? [node.data.failure] : [])];
          const c = critique({
            id,
            recipe: Recipe.parse(row.recipe),
            parents,
            technique: node.data.agents?.technique ?? null,
            operation: node.data.agents?.operation ?? 'seed',
            step,
            outcome: outcomeOf(node.data),
            failures,
          });
          if (c.improvedOver.length > 0) improved++;
          if (c.failedBecause.length > 0) failed++;
          const message = node.data.error ?? '';
          await writeCritique(trx, evolutionId, family, c, Object.fromEntries(c.failedBecause.map((f) => [f, message.slice(0, 500)])));
        }
      });
      return { family, improved, failed, scores: scorePatterns(await patternStats(db, evolutionId), family).map((s) => ({ ...s, score: Number.isFinite(s.score) ? s.score : Number.MAX_VALUE })) };
    },
  };
}
