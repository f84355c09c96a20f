// The scout activity: reads the knowledge graph (innovations, derivations, the patterns' statistics)
// and the frontier, extracts the generation's chain of thought and stores it as a node. Once per
// generation: a retry returns the chain already stored.
import type { Kysely } from 'kysely';
import { ChainOfThought } from '../../schema/agents.js';
import type { Database } from '../../schema/db.js';
import type { EvolutionConfig } from '../../schema/evolution-config.js';
import { builtinRecipe } from '../../science/recipes/builtin.js';
import { compileTarget } from '../../science/physics/compile.js';
import { scorePatterns } from '../../evolution/agents/bandit.js';
import { chainId, extractChain } from '../../evolution/agents/scout.js';
import { targetFamily } from '../../evolution/agents/target-family.js';
import { loadChain, saveChain } from '../../evolution/knowledge/chains.js';
import type { GraphInnovation } from '../../evolution/agents/innovation-graph.js';
import { loadInnovationGraph } from '../../evolution/knowledge/innovation-graph.js';
import { innovationRecipe } from '../../evolution/knowledge/innovations/recipe.js';
import { patternStats } from '../../evolution/knowledge/pattern-stats.js';
import { TECHNIQUES } from '../../evolution/proposer/techniques.js';
import type { Recipe } from '../../schema/recipe.js';
import { loadFrontier } from './frontier.js';
import { compileInput } from './target.js';

export interface ScoutDeps {
  db: Kysely<Database>;
}

export interface ScoutRequest {
  evolutionId: string;
  generation: number;
  config: EvolutionConfig;
}

const NOT_SERVABLE = new Set(['not-servable', 'kernel-unsupported', 'shard-shape']);
const OPERATORS: ReadonlySet<string> = new Set(TECHNIQUES.map((t) => t.id));

export function createScout({ db }: ScoutDeps) {
  // Servability of an innovation on a target does not change while the worker lives.
  const servableCache = new Map<string, boolean>();
  const servableOn = (config: EvolutionConfig) => (n: GraphInnovation): boolean => {
    const key = `${JSON.stringify(config.target)}|${n.id}|${JSON.stringify(n.genes)}`;
    let ok = servableCache.get(key);
    if (ok === undefined) {
      const recipe = innovationRecipe({ id: n.id, name: n.name, keyIdea: n.keyIdea, genes: n.genes });
      ok = recipe !== null && !compileTarget(compileInput(config.target), recipe).violations.some((v) => NOT_SERVABLE.has(v.code));
      servableCache.set(key, ok);
    }
    return ok;
  };

  return {
    async scout({ evolutionId, generation, config }: ScoutRequest): Promise<ChainOfThought> {
      const stored = await loadChain(db, chainId(evolutionId, generation));
      if (stored) return stored;
      const { survivors } = await loadFrontier(db, evolutionId, generation);
      const frontier: Array<{ id: string; recipe: Recipe }> =
        survivors.length > 0
          ? survivors.map((c) => ({ id: c.id, recipe: c.recipe }))
          : config.seedRecipes.flatMap((r, i) => {
              const recipe = typeof r === 'string' ? builtinRecipe(r) : r;
              return recipe ? [{ id: `seed-${i}`, recipe }] : [];
            });
      const graph = await loadInnovationGraph(db);
      const family = targetFamily(config.target);
      const servable = servableOn(config);
      // Compile each executable innovation once, letting the worker's heartbeats out in between.
      for (const n of graph.innovations.values()) {
        if (!n.executable) continue;
        await new Promise((resolve) => setImmediate(resolve));
        servable(n);
      }
      const chain = ChainOfThought.parse(
        extractChain({
          evolutionId,
          generation,
          family,
          guidance: config.agents.guidance,
          chainLength: config.agents.chainLength,
          graph,
          frontier,
          scores: scorePatterns(await patternStats(db, evolutionId), family),
          servable: (id) => {
            const n = graph.innovations.get(id);
            return n !== undefined && servable(n);
          },
          operators: OPERATORS,
        }),
      );
      await saveChain(db, chain);
      return chain;
    },
  };
}
