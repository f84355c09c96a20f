// The curator activity: the evolution's survivors after a generation — a constrained Pareto front
// of loss × memory per GPU with crowding, each strategy family keeping a niche — stored on the
// generation row for the next architect to draw parents from.
import type { Kysely } from 'kysely';
import { setSurvivors } from '../../engine/db/evolutions.js';
import type { Database } from '../../schema/db.js';
import type { EvolutionConfig } from '../../schema/evolution-config.js';
import { loadArchive } from '../../evolution/knowledge/load-archive.js';
import { curate, type Curated } from '../../evolution/selection/constrained-pareto.js';
import { strategyNiche } from '../../evolution/selection/strategy-niche.js';

export interface CuratorDeps {
  db: Kysely<Database>;
}

export interface CuratorRequest {
  evolutionId: string;
  generation: number;
  config: EvolutionConfig;
}

/** Survivors kept per generation: the population, and never fewer than two (crossover needs two). */
export const survivorCount = (config: EvolutionConfig): number => Math.max(2, config.populationSize);

export function createCurator({ db }: CuratorDeps) {
  return {
    async curator({ evolutionId, generation, config }: CuratorRequest): Promise<Curated[]> {
      const archive = await loadArchive(db, evolutionId);
      const items = archive.flatMap((c) =>
        c.score
          ? [{
              id: c.id,
              niche: strategyNiche(c.recipe),
              gbPerGpu: c.score.gbPerGpu,
              kl: c.score.kl,
              // Memory per GPU is what a candidate that does not fit violates; the more, the worse.
              violation: c.score.fits ? 0 : c.score.gbPerGpu,
            }]
          : [],
      );
      // Infinite crowding (a front's ends) would not survive the JSON of Temporal's history.
      const survivors = curate(items, survivorCount(config)).map((s) => ({ ...s, crowding: Number.isFinite(s.crowding) ? s.crowding : Number.MAX_VALUE }));
      await setSurvivors(db, evolutionId, generation, survivors.map((s) => s.id));
      return survivors;
    },
  };
}
