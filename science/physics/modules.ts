// Every linear module of a model, with the role a recipe addresses it by and the shape it has.
// Weights are [outFeatures, inFeatures] as HF stores them; groups run along inFeatures. The
// embedding table [vocab, hidden] is listed the same way (out = vocab rows, in = hidden).
import type { ModelArchitecture } from '../../schema/model-config.js';
import type { ModuleRole, ModuleSite } from '../../schema/recipe.js';

export type Projection = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down' | 'router' | 'shared_gate' | 'embed' | 'lm_head';

/**
 * How tensor parallelism splits a module: column = output rows split, row = input columns split,
 * vocab = vocabulary rows split, replicated = every GPU holds it whole.
 */
export type ParallelStyle = 'column' | 'row' | 'vocab' | 'replicated';

export interface LinearModule {
  /** HF weight tensor name, e.g. `model.layers.3.mlp.experts.5.down_proj.weight`. */
  name: string;
  role: ModuleRole;
  projection: Projection;
  layer: number | null;
  expert: number | null;
  /** Expert rank quantile rank / E in [0, 1), 0 = hottest; null outside routed experts. */
  expertQuantile: number | null;
  /** Rank quantile of the layer under an `expertLayers` ranking (0 = most sensitive); absent: by depth. */
  layerQuantile?: number | null;
  inFeatures: number;
  outFeatures: number;
  /** Bias elements (one per output row), stored in bf16. */
  biasParams: number;
  parallel: ParallelStyle;
  /** A tied lm_head reads the embedding table: it adds no stored parameters. */
  tied: boolean;
}

export interface EnumerateOptions {
  /**
   * Rank of an expert within its layer (0 = hottest or most sensitive). Without routing or
   * sensitivity statistics the rank is the expert index, so a tier `below: 0.25` covers
   * exactly the first quarter of the experts.
   */
  expertRank?: (layer: number, expert: number) => number;
  /**
   * Rank of a layer by the sensitivity of its experts (0 = most sensitive), for `expertLayers`
   * tiers. Without it a layer ranks by depth, so a tier `below: 0.25` covers the first quarter
   * of the layers: the same number of layers, hence the same bytes, as any other ranking.
   */
  layerRank?: (layer: number) => number;
}

const COLUMN_OR_ROW: Record<'gate' | 'up' | 'down', ParallelStyle> = { gate: 'column', up: 'column', down: 'row' };
const MIXTRAL_NAMES: Record<'gate' | 'up' | 'down', string> = { gate: 'w1', up: 'w3', down: 'w2' };

export function enumerateModules(arch: ModelArchitecture, opts: EnumerateOptions = {}): LinearModule[] {
  const rankOf = opts.expertRank ?? ((_layer: number, expert: number) => expert);
  const h = arch.hiddenSize;
  const qOut = arch.numAttentionHeads * arch.headDim;
  const kvOut = arch.numKeyValueHeads * arch.headDim;
  const mixtral = arch.naming === 'mixtral';
  const out: LinearModule[] = [];
  const add = (m: Omit<LinearModule, 'expert' | 'expertQuantile' | 'biasParams' | 'tied'> & Partial<LinearModule>): void => {
    out.push({ expert: null, expertQuantile: null, biasParams: 0, tied: false, ...m });
  };

  add({ name: 'model.embed_tokens.weight', role: 'embeddings', projection: 'embed', layer: null, inFeatures: h, outFeatures: arch.vocabSize, parallel: 'vocab' });

  for (let i = 0; i < arch.numLayers; i++) {
    const pre = `model.layers.${i}.`;
    const bias = arch.attentionBias;
    add({ name: `${pre}self_attn.q_proj.weight`, role: 'attn_q', projection: 'q', layer: i, inFeatures: h, outFeatures: qOut, biasParams: bias ? qOut : 0, parallel: 'column' });
    add({ name: `${pre}self_attn.k_proj.weight`, role: 'attn_k', projection: 'k', layer: i, inFeatures: h, outFeatures: kvOut, biasParams: bias ? kvOut : 0, parallel: 'column' });
    add({ name: `${pre}self_attn.v_proj.weight`, role: 'attn_v', projection: 'v', layer: i, inFeatures: h, outFeatures: kvOut, biasParams: bias ? kvOut : 0, parallel: 'column' });
    add({ name: `${pre}self_attn.o_proj.weight`, role: 'attn_o', projection: 'o', layer: i, inFeatures: qOut, outFeatures: h, parallel: 'row' });

    if (arch.mlpKinds[i] === 'moe' && arch.moe) {
      const { numExperts: E, expertIntermediateSize: f, sharedExpertIntermediateSize: sf } = arch.moe;
      const moePre = mixtral ? `${pre}block_sparse_moe.` : `${pre}mlp.`;
      // Routers are tiny and replicated: every GPU routes its own copy of the tokens.
      add({ name: `${moePre}gate.weight`, role: 'router', projection: 'router', layer: i, inFeatures: h, outFeatures: E, parallel: 'replicated' });
      for (let e = 0; e < E; e++) {
        const expertQuantile = rankOf(i, e) / E;
        const layerQuantile = opts.layerRank ? opts.layerRank(i) / arch.numLayers : null;
        for (const p of ['gate', 'up', 'down'] as const) {
          const name = mixtral ? `${moePre}experts.${e}.${MIXTRAL_NAMES[p]}.weight` : `${moePre}experts.${e}.${p}_proj.weight`;
          const [inF, outF] = p === 'down' ? [f, h] : [h, f];
          add({ name, role: `expert_${p}`, projection: p, layer: i, expert: e, expertQuantile, layerQuantile, inFeatures: inF, outFeatures: outF, parallel: COLUMN_OR_ROW[p] });
        }
      }
      if (sf > 0) {
        for (const p of ['gate', 'up', 'down'] as const) {
          const [inF, outF] = p === 'down' ? [sf, h] : [h, sf];
          add({ name: `${pre}mlp.shared_expert.${p}_proj.weight`, role: 'shared_expert', projection: p, layer: i, inFeatures: inF, outFeatures: outF, parallel: COLUMN_OR_ROW[p] });
        }
      }
      if (arch.moe.sharedExpertGate && sf > 0) {
        add({ name: `${pre}mlp.shared_expert_gate.weight`, role: 'router', projection: 'shared_gate', layer: i, inFeatures: h, outFeatures: 1, parallel: 'replicated' });
      }
    } else {
      const f = arch.denseIntermediateSize;
      for (const p of ['gate', 'up', 'down'] as const) {
        const [inF, outF] = p === 'down' ? [f, h] : [h, f];
        add({ name: `${pre}mlp.${p}_proj.weight`, role: 'dense_mlp', projection: p, layer: i, inFeatures: inF, outFeatures: outF, parallel: COLUMN_OR_ROW[p] });
      }
    }
  }

  add({
    name: arch.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight',
    role: 'lm_head',
    projection: 'lm_head',
    layer: null,
    inFeatures: h,
    outFeatures: arch.vocabSize,
    parallel: 'vocab',
    tied: arch.tieWordEmbeddings,
  });
  return out;
}

/** Stored parameters of a module (0 for a tied lm_head). */
export function moduleParams(m: LinearModule): number {
  return m.tied ? 0 : m.inFeatures * m.outFeatures + m.biasParams;
}

/** Where a module sits, as far as a recipe can see. */
export function moduleSite(arch: ModelArchitecture, m: LinearModule): ModuleSite {
  return { role: m.role, layer: m.layer, numLayers: arch.numLayers, expertQuantile: m.expertQuantile, layerQuantile: m.layerQuantile ?? null };
}

/** RMSNorm weights (bf16, replicated on every GPU): per layer and the final norm. */
export function normParameters(arch: ModelArchitecture): { perLayer: number; final: number; total: number } {
  const perLayer = 2 * arch.hiddenSize + (arch.qkNorm ? 2 * arch.headDim : 0);
  const final = arch.hiddenSize;
  return { perLayer, final, total: perLayer * arch.numLayers + final };
}
