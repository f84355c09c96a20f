// The architect activity: the generation's children from the chain of thought. The default
// architect needs no LLM; with `agents.llm` configured, the LLM architect proposes first (its reply
// validated, repaired once or discarded — never executed) and the default architect fills the rest.
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { ArchitectProposal, type ChainOfThought } from '../../schema/agents.js';
import type { Database } from '../../schema/db.js';
import type { EvolutionConfig } from '../../schema/evolution-config.js';
import { DEFAULT_STACK } from '../../schema/serving-stack.js';
import { architect } from '../../evolution/agents/architect.js';
import { llmArchitect } from '../../evolution/agents/llm-architect/index.js';
import { servingContext } from '../../evolution/proposer/serving-context.js';
import { loadFrontier } from './frontier.js';

export interface ArchitectDeps {
  db: Kysely<Database>;
  fetch?: typeof fetch;
  env?: NodeJS.ProcessEnv;
}

export interface ArchitectRequest {
  evolutionId: string;
  generation: number;
  config: EvolutionConfig;
  chain: ChainOfThought;
}

export interface ArchitectResult {
  proposals: ArchitectProposal[];
  /** What the LLM architect did, when one is configured: how many children it gave, or why it was discarded. */
  llm: { proposals: number; discarded: string | null; requests: number } | null;
}

const Proposals = z.array(ArchitectProposal);

export function createArchitect({ db, fetch, env }: ArchitectDeps) {
  return {
    async architect({ evolutionId, generation, config, chain }: ArchitectRequest): Promise<ArchitectResult> {
      const { archive, survivors } = await loadFrontier(db, evolutionId, generation);
      const archiveIds = new Set(archive.map((c) => c.id));
      const serving = servingContext(config.target);
      let fromLlm: ArchitectProposal[] = [];
      let llm: ArchitectResult['llm'] = null;
      if (config.agents.llm && generation > 0 && survivors.length > 0) {
        const outcome = await llmArchitect(
          { fetch, env },
          {
            config: config.agents.llm,
            chain,
            parents: survivors.map((c) => ({ id: c.id, recipe: c.recipe, gbPerGpu: c.score?.gbPerGpu ?? null, kl: c.score && Number.isFinite(c.score.kl) ? c.score.kl : null, fits: c.score?.fits ?? null })),
            target: { model: config.target.model, hardware: config.target.hardware, gpus: config.target.gpus, stack: config.target.stack ?? DEFAULT_STACK, context: config.target.context },
            evolutionId,
            generation,
            populationSize: config.populationSize,
            archiveIds,
            serving,
            seed: config.seed,
          },
        );
        fromLlm = outcome.kind === 'proposals' ? outcome.proposals : [];
        llm = { proposals: fromLlm.length, discarded: outcome.kind === 'discarded' ? outcome.reason : null, requests: outcome.attempts.length };
      }
      const rest = architect({
        evolutionId,
        generation,
        seed: config.seed,
        populationSize: config.populationSize - fromLlm.length,
        guidance: config.agents.guidance,
        chain,
        survivors,
        selection: config.selection,
        archiveIds: new Set([...archiveIds, ...fromLlm.map((p) => p.id)]),
        seedRecipes: config.seedRecipes,
        serving,
      });
      return { proposals: Proposals.parse([...fromLlm, ...rest]), llm };
    },
  };
}
