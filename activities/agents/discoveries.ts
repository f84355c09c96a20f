// Discovery activities, run once an evolution's generations are done: which manual recipes (the
// builtins and the seed graph's executable innovations) must be measured on the target to judge its
// candidates, recording their measurements, and judging: every evolved candidate that beats them all
// becomes a discovery node with a method card.
import type { Kysely } from 'kysely';
import { listCandidates } from '../../engine/db/candidates.js';
import { findReferenceMeasurement, listReferences, recordReference } from '../../engine/db/references.js';
import { getResult } from '../../engine/db/results.js';
import type { Database, JsonObject, ReferenceSource } from '../../schema/db.js';
import type { EvolutionConfig } from '../../schema/evolution-config.js';
import { Recipe } from '../../schema/recipe.js';
import type { EvaluationMeasurement, QuantizedArtifact } from '../../schema/workflow-contracts.js';
import { BUILTIN_RECIPES } from '../../science/recipes/builtin.js';
import { compileTarget } from '../../science/physics/compile.js';
import { judgeDiscoveries, type Measured } from '../../evolution/agents/discovery.js';
import { strategyNiche } from '../../evolution/selection/strategy-niche.js';
import { targetFamily } from '../../evolution/agents/target-family.js';
import { lineagePath, saveDiscovery, type MethodCard } from '../../evolution/knowledge/discoveries.js';
import { innovationSeed } from '../../evolution/knowledge/innovations/load.js';
import { innovationRecipe } from '../../evolution/knowledge/innovations/recipe.js';
import { policyHash } from '../../evolution/proposer/candidate-id.js';
import { compileInput } from './target.js';

export interface DiscoveryDeps {
  db: Kysely<Database>;
}

export interface ReferenceRecipe {
  name: string;
  source: ReferenceSource;
  recipe: Recipe;
  recipeHash: string;
  gbPerGpu: number;
  fits: boolean;
}

/** What makes two measurements comparable: the same proxy, held-out and calibration tokens. */
export const settingsKey = (config: EvolutionConfig): string => `${config.proxy}|${config.evaluation.tokens}|${config.evaluation.calibrationTokens}`;

const NOT_SERVABLE = new Set(['not-servable', 'kernel-unsupported', 'shard-shape']);

/** Lets the worker's heartbeats out between compiles (each takes a fraction of a second on a 235B MoE). */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Every manual recipe, compiled on the target (bf16 always: it anchors Δ bits/byte). */
async function manualRecipes(config: EvolutionConfig): Promise<ReferenceRecipe[]> {
  const out = new Map<string, ReferenceRecipe>();
  const consider = async (name: string, source: ReferenceSource, recipe: Recipe): Promise<void> => {
    const hash = policyHash(recipe);
    if (out.has(hash)) return;
    await breathe();
    const report = compileTarget(compileInput(config.target), recipe);
    const servable = !report.violations.some((v) => NOT_SERVABLE.has(v.code));
    if (servable || name === 'bf16') out.set(hash, { name, source, recipe, recipeHash: hash, gbPerGpu: report.perGpu.totalBytes / 1e9, fits: report.fits });
  };
  for (const [name, recipe] of BUILTIN_RECIPES) await consider(name, 'builtin', recipe);
  for (const n of innovationSeed().innovations) {
    const recipe = innovationRecipe(n);
    if (recipe) await consider(recipe.name, 'innovation', recipe);
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

function metricsOf(m: EvaluationMeasurement, artifact: QuantizedArtifact, r: ReferenceRecipe, settings: string) {
  return { bits_per_byte: m.bitsPerByte, top1: m.top1, kl: m.kl, proxy_bytes: artifact.proxyBytes, gb_per_gpu: r.gbPerGpu, fits: r.fits, baseline_top1: m.baselineTop1, settings };
}

export function createDiscoveryActivities({ db }: DiscoveryDeps) {
  return {
    /**
     * The manual recipes still to measure for this evolution: servable ones that fit at no more
     * memory than its largest measured candidate (larger ones cannot beat any of them at equal
     * memory), and bf16. Measurements of the same recipe with the same settings — this evolution's
     * seeds, other evolutions' references — are recorded here instead of measured again.
     */
    async referencesToMeasure({ evolutionId, config }: { evolutionId: string; config: EvolutionConfig }): Promise<ReferenceRecipe[]> {
      const settings = settingsKey(config);
      const candidates = await listCandidates(db, evolutionId, { status: 'evaluated' });
      const measuredByHash = new Map<string, string>(candidates.map((c) => [c.recipe_hash, c.id]));
      let ceiling = 0;
      for (const c of candidates) {
        const m = (await getResult(db, c.id))?.metrics;
        if (m?.fits) ceiling = Math.max(ceiling, m.gb_per_gpu);
      }
      const done = new Set((await listReferences(db, evolutionId)).map((r) => r.recipe_hash));
      const todo: ReferenceRecipe[] = [];
      for (const r of await manualRecipes(config)) {
        if (done.has(r.recipeHash)) continue;
        if (r.name !== 'bf16' && (!r.fits || r.gbPerGpu > ceiling)) continue;
        const own = measuredByHash.get(r.recipeHash);
        const ownMetrics = own ? (await getResult(db, own))?.metrics : undefined;
        const elsewhere = ownMetrics ? undefined : await findReferenceMeasurement(db, r.recipeHash, settings);
        const metrics = ownMetrics ? { ...ownMetrics, settings } : elsewhere ? { ...elsewhere.metrics, settings, gb_per_gpu: r.gbPerGpu, fits: r.fits } : null;
        if (metrics) await recordReference(db, { evolutionId, recipeHash: r.recipeHash, name: r.name, source: r.source, recipe: JSON.parse(JSON.stringify(r.recipe)) as JsonObject, metrics });
        else todo.push(r);
      }
      return todo;
    },

    async recordReferenceResult(req: { evolutionId: string; config: EvolutionConfig; reference: ReferenceRecipe; artifact: QuantizedArtifact; measurement: EvaluationMeasurement }): Promise<void> {
      const r = req.reference;
      await recordReference(db, { evolutionId: req.evolutionId, recipeHash: r.recipeHash, name: r.name, source: r.source, recipe: JSON.parse(JSON.stringify(r.recipe)) as JsonObject, metrics: metricsOf(req.measurement, req.artifact, r, settingsKey(req.config)) });
    },

    /** Judges the evolution's evolved candidates against its references; stores and returns the discoveries. */
    async discover({ evolutionId, config }: { evolutionId: string; config: EvolutionConfig }): Promise<MethodCard[]> {
      const refs = await listReferences(db, evolutionId);
      const bf16 = refs.find((r) => r.name === 'bf16');
      const references: Measured[] = refs.filter((r) => r.metrics.fits).map((r) => ({ id: r.recipe_hash, name: r.name, gbPerGpu: r.metrics.gb_per_gpu, kl: r.metrics.kl, bitsPerByte: r.metrics.bits_per_byte, top1: r.metrics.top1 }));
      const manual = new Set(refs.map((r) => r.recipe_hash));
      const evolved: Measured[] = [];
      const recipes = new Map<string, Recipe>();
      for (const c of await listCandidates(db, evolutionId, { status: 'evaluated' })) {
        if (c.parent_ids.length === 0 || manual.has(c.recipe_hash)) continue;
        const m = (await getResult(db, c.id))?.metrics;
        if (!m?.fits) continue;
        const recipe = Recipe.parse(c.recipe);
        recipes.set(c.id, recipe);
        evolved.push({ id: c.id, name: recipe.name, gbPerGpu: m.gb_per_gpu, kl: m.kl, bitsPerByte: m.bits_per_byte, top1: m.top1 });
      }
      const family = targetFamily(config.target);
      const t = config.target;
      const cards: MethodCard[] = [];
      for (const j of judgeDiscoveries(evolved, references, bf16?.metrics.bits_per_byte ?? null)) {
        const recipe = recipes.get(j.candidate.id)!;
        await breathe();
        const report = compileTarget(compileInput(config.target), recipe);
        const bitsPerWeight = (16 * report.weightBytes.total) / Math.max(1, report.weightBytes.bf16Total);
        const card: MethodCard = {
          name: `${strategyNiche(recipe)}@${bitsPerWeight.toFixed(2)}b/w-${j.candidate.id.slice(-6)}`,
          evolutionId,
          candidateId: j.candidate.id,
          family,
          target: `${t.model} on ${t.gpus}×${t.hardware} (${t.stack ?? 'vllm'})`,
          genes: recipe,
          lineage: await lineagePath(db, j.candidate.id),
          measured: j.candidate,
          gains: j.gains,
        };
        await saveDiscovery(db, card);
        cards.push(card);
      }
      return cards;
    },
  };
}
