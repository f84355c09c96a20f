// The QuantSpec of every module, memoised: a 235B MoE has 36k expert matrices but only a few
// hundred distinct (role, layer, expert tier) sites, and resolveSpec re-validates each spec.
import { z } from 'zod';
import type { ModelArchitecture } from '../../schema/model-config.js';
import { InvalidRecipeError, isExpertRole, layerQuantileOf, resolveSpec, type QuantOverride, type QuantSpec, type Recipe } from '../../schema/recipe.js';
import { moduleSite, type LinearModule } from './modules.js';

export type SpecResolver = (m: LinearModule) => QuantSpec;

/**
 * bits 16 means "keep bf16": the format is meaningless there. An override `{ bits: 16 }` on an
 * fp8 default (the builtin fp8 recipes keep routers/embeddings/lm_head that way) would otherwise
 * inherit format 'fp8' and fail QuantSpec's "fp8 requires bits 8" check, so such overrides get
 * format 'int'. This changes no bytes: physics stores every 16-bit module as bf16.
 */
function keepBf16(o: QuantOverride): QuantOverride {
  return o.bits === 16 && o.format === undefined ? { ...o, format: 'int' } : o;
}

function normaliseBf16Overrides(r: Recipe): Recipe {
  const roles: Recipe['roles'] = {};
  for (const [role, o] of Object.entries(r.roles) as Array<[keyof Recipe['roles'], QuantOverride | undefined]>) {
    if (o) roles[role] = keepBf16(o);
  }
  return {
    ...r,
    roles,
    depth: r.depth.map((b) => ({ ...b, override: keepBf16(b.override) })),
    experts: r.experts && { ...r.experts, tiers: r.experts.tiers.map((t) => ({ ...t, override: keepBf16(t.override) })) },
    expertLayers: r.expertLayers && { ...r.expertLayers, tiers: r.expertLayers.tiers.map((t) => ({ ...t, override: keepBf16(t.override) })) },
  };
}

export function createSpecResolver(recipe: Recipe, arch: ModelArchitecture): SpecResolver {
  const r = normaliseBf16Overrides(recipe);
  const cache = new Map<string, QuantSpec>();
  const tiers = r.experts?.tiers;
  return (m) => {
    // A tied lm_head is the embedding table: it is stored (and so quantized) as the embeddings are.
    const site = m.tied ? { role: 'embeddings' as const, layer: null, numLayers: arch.numLayers, expertQuantile: null } : moduleSite(arch, m);
    // Same partition resolveSpec applies: the first tier whose bound exceeds the quantile.
    const tier = tiers && site.expertQuantile !== null && isExpertRole(site.role) ? tiers.findIndex((t) => site.expertQuantile! < t.below) : -1;
    // The layer's expert-layer tier is a function of the layer, which the key already holds.
    const key = `${site.role}|${site.layer}|${tier}|${layerQuantileOf(site)}`;
    let spec = cache.get(key);
    if (!spec) {
      try {
        spec = resolveSpec(r, site);
      } catch (err) {
        if (!(err instanceof z.ZodError)) throw err;
        const issue = err.issues[0];
        const where = `${site.role}${site.layer === null ? '' : ` layer ${site.layer}`}${tier >= 0 ? ` tier ${tier}` : ''}`;
        throw new InvalidRecipeError(`recipe "${recipe.name}": ${where}: ${issue.path.join('.') || 'spec'}: ${issue.message}`);
      }
      cache.set(key, spec);
    }
    return spec;
  };
}
