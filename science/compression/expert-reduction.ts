// Expert pruning and merging: a model with fewer routed experts per layer. Every layer keeps its
// most-routed experts (routing frequency on the calibration text); the router rows of the others
// are dropped and the kept experts renumbered 0..E'-1, so the result is an ordinary model whose
// config says num_experts = E'. Its forward pass takes the softmax and top-k over the experts that
// remain: softmax over a subset of logits is the full softmax renormalised over that subset.
//
// prune (NAEE, Lu et al. 2024, arXiv 2402.14800, ranking by frequency instead of its
// reconstruction search): removed experts are dropped.
// merge (MC-SMoE, Li et al. 2023, arXiv 2310.01334; HC-SMoE, Chen et al. 2024, arXiv 2410.08589):
// each removed expert folds into the kept expert whose router logits on the calibration text are
// most similar (cosine of wᵢᵀx and wⱼᵀx over the tokens, i.e. under the router input's Gram Σxxᵀ).
// Its intermediate neurons are first aligned with the kept expert's by a linear assignment on their
// weights (MC-SMoE's weight matching), then gate, up and down are averaged weighted by routing
// frequency. MC-SMoE's later low-rank and sparsity steps are not part of this gene.
import type { ProxyWeights } from '../model/forward.js';
import * as names from '../model/tensor-names.js';
import { ProxyConfig } from '../../schema/proxy-config.js';
import { expertsKept, InvalidRecipeError, type ExpertReduction } from '../../schema/recipe.js';
import { solveAssignment } from './assignment.js';

export interface ExpertReductionEvidence {
  /** Tokens routed to each expert on the calibration text, [layer][expert]. */
  routedCounts: readonly (readonly number[])[];
  /** Σ x·xᵀ of each layer's router input [hidden, hidden], for merge's router-logit similarity (absent: plain cosine of router rows). */
  routerInputGram?: (layer: number) => Float64Array | undefined;
}

export interface ExpertReductionPlan {
  mode: ExpertReduction['mode'];
  /** Original ids of the experts each layer keeps, ascending: new expert i is kept[layer][i]. */
  kept: number[][];
  /** merge: the kept expert (original id) each removed expert folded into, [layer] as [removed, into] pairs. Empty for prune. */
  mergedInto: Array<Array<[number, number]>>;
}

export interface ReducedModel {
  weights: ProxyWeights;
  plan: ExpertReductionPlan;
}

/** The `keep` most-routed experts of a layer (ties: the lower index), ascending by id. */
export function mostRouted(counts: readonly number[], keep: number): number[] {
  return counts
    .map((n, e) => ({ n, e }))
    .sort((a, b) => b.n - a.n || a.e - b.e)
    .slice(0, keep)
    .map(({ e }) => e)
    .sort((a, b) => a - b);
}

function tensor(weights: ProxyWeights, name: string): Float32Array {
  const t = weights.tensors.get(name);
  if (!t) throw new Error(`expert reduction: model has no tensor ${name}`);
  return t;
}

/** wᵢᵀ G wⱼ, or wᵢ·wⱼ without G. */
function bilinear(a: Float32Array, b: Float32Array, gram: Float64Array | undefined): number {
  const d = a.length;
  let s = 0;
  if (!gram) {
    for (let i = 0; i < d; i++) s += a[i] * b[i];
    return s;
  }
  for (let i = 0; i < d; i++) {
    let row = 0;
    for (let j = 0; j < d; j++) row += gram[i * d + j] * b[j];
    s += a[i] * row;
  }
  return s;
}

/** Cosine similarity of two experts' router logits over the calibration tokens. */
export function routerSimilarity(router: Float32Array, hidden: number, i: number, j: number, gram?: Float64Array): number {
  const wi = router.subarray(i * hidden, (i + 1) * hidden);
  const wj = router.subarray(j * hidden, (j + 1) * hidden);
  const den = Math.sqrt(bilinear(wi, wi, gram) * bilinear(wj, wj, gram));
  return den > 0 ? bilinear(wi, wj, gram) / den : 0;
}

interface ExpertMats {
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

/**
 * The permutation of `other`'s intermediate neurons that best matches `base`'s: assign[a] = the
 * neuron of `other` aligned with neuron a of `base`, maximising Σ ⟨gate, up, downᵀ of a and assign[a]⟩.
 */
export function alignNeurons(base: ExpertMats, other: ExpertMats, d: number, f: number): Int32Array {
  const cost = new Float64Array(f * f);
  for (let a = 0; a < f; a++) {
    for (let b = 0; b < f; b++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += base.gate[a * d + j] * other.gate[b * d + j] + base.up[a * d + j] * other.up[b * d + j] + base.down[j * f + a] * other.down[j * f + b];
      cost[a * f + b] = -s;
    }
  }
  return solveAssignment(cost, f);
}

function permuted(m: ExpertMats, assign: Int32Array, d: number, f: number): ExpertMats {
  const gate = new Float32Array(f * d);
  const up = new Float32Array(f * d);
  const down = new Float32Array(d * f);
  for (let a = 0; a < f; a++) {
    const b = assign[a];
    gate.set(m.gate.subarray(b * d, (b + 1) * d), a * d);
    up.set(m.up.subarray(b * d, (b + 1) * d), a * d);
    for (let j = 0; j < d; j++) down[j * f + a] = m.down[j * f + b];
  }
  return { gate, up, down };
}

/** Σ wᵢ·mᵢ / Σ wᵢ per tensor; equal weights when every weight is 0. */
export function weightedAverage(members: readonly ExpertMats[], weights: readonly number[]): ExpertMats {
  const total = weights.reduce((s, w) => s + w, 0);
  const w = total > 0 ? weights.map((x) => x / total) : weights.map(() => 1 / weights.length);
  const avg = (pick: (m: ExpertMats) => Float32Array): Float32Array => {
    const out = new Float32Array(pick(members[0]).length);
    members.forEach((m, i) => {
      const t = pick(m);
      for (let k = 0; k < out.length; k++) out[k] += w[i] * t[k];
    });
    return out;
  };
  return { gate: avg((m) => m.gate), up: avg((m) => m.up), down: avg((m) => m.down) };
}

function expertMats(weights: ProxyWeights, layer: number, expert: number): ExpertMats {
  return {
    gate: tensor(weights, names.expertTensor(layer, expert, 'gate')),
    up: tensor(weights, names.expertTensor(layer, expert, 'up')),
    down: tensor(weights, names.expertTensor(layer, expert, 'down')),
  };
}

/**
 * The model restricted to the given experts per layer (original ids, ascending), renumbered, with
 * `replace` giving new weights for some kept experts (by original id). Everything else is shared.
 */
export function keepExperts(weights: ProxyWeights, kept: readonly (readonly number[])[], replace: ReadonlyArray<ReadonlyMap<number, ExpertMats>> = []): ProxyWeights {
  const c = weights.config;
  const E2 = kept[0]?.length ?? c.num_experts;
  if (kept.length !== c.num_hidden_layers || kept.some((k) => k.length !== E2)) throw new RangeError('expert reduction: every layer must keep the same number of experts');
  const config = ProxyConfig.parse({ ...c, num_experts: E2 });
  const d = c.hidden_size;
  const tensors = new Map(weights.tensors);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    for (let e = 0; e < c.num_experts; e++) for (const p of ['gate', 'up', 'down'] as const) tensors.delete(names.expertTensor(l, e, p));
    const router = tensor(weights, names.routerTensor(l));
    const rows = new Float32Array(E2 * d);
    kept[l].forEach((orig, i) => {
      if (!Number.isInteger(orig) || orig < 0 || orig >= c.num_experts || (i > 0 && orig <= kept[l][i - 1])) throw new RangeError(`expert reduction: layer ${l} keeps an invalid expert list`);
      rows.set(router.subarray(orig * d, (orig + 1) * d), i * d);
      const m = replace[l]?.get(orig) ?? expertMats(weights, l, orig);
      tensors.set(names.expertTensor(l, i, 'gate'), m.gate);
      tensors.set(names.expertTensor(l, i, 'up'), m.up);
      tensors.set(names.expertTensor(l, i, 'down'), m.down);
    });
    tensors.set(names.routerTensor(l), rows);
  }
  return { config, tensors };
}

/** Applies a recipe's expert reduction to an unquantized model. */
export function reduceExperts(weights: ProxyWeights, reduction: ExpertReduction, evidence: ExpertReductionEvidence): ReducedModel {
  const c = weights.config;
  const keep = expertsKept(c.num_experts, reduction);
  if (keep < c.num_experts_per_tok) {
    throw new InvalidRecipeError(
      `recipe.expertReduction.fraction: ${reduction.fraction} removes ${c.num_experts - keep} of ${c.num_experts} experts per layer, leaving fewer than the ${c.num_experts_per_tok} the router picks per token`,
    );
  }
  if (evidence.routedCounts.length !== c.num_hidden_layers || evidence.routedCounts.some((r) => r.length !== c.num_experts)) {
    throw new RangeError(`expert reduction: routing counts must be [${c.num_hidden_layers}][${c.num_experts}]`);
  }
  const d = c.hidden_size;
  const f = c.moe_intermediate_size;
  const kept = evidence.routedCounts.map((counts) => mostRouted(counts, keep));
  const mergedInto: Array<Array<[number, number]>> = kept.map(() => []);
  const replace: Array<Map<number, ExpertMats>> = kept.map(() => new Map());
  if (reduction.mode === 'merge') {
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const keptSet = new Set(kept[l]);
      const router = tensor(weights, names.routerTensor(l));
      const gram = evidence.routerInputGram?.(l);
      const groups = new Map<number, number[]>(kept[l].map((k) => [k, []]));
      for (let r = 0; r < c.num_experts; r++) {
        if (keptSet.has(r)) continue;
        let best = kept[l][0];
        let bestSim = -Infinity;
        for (const k of kept[l]) {
          const sim = routerSimilarity(router, d, r, k, gram);
          if (sim > bestSim) {
            bestSim = sim;
            best = k;
          }
        }
        groups.get(best)!.push(r);
        mergedInto[l].push([r, best]);
      }
      for (const [k, removed] of groups) {
        if (removed.length === 0) continue;
        const base = expertMats(weights, l, k);
        const members = [base, ...removed.map((r) => permuted(expertMats(weights, l, r), alignNeurons(base, expertMats(weights, l, r), d, f), d, f))];
        const counts = [k, ...removed].map((e) => evidence.routedCounts[l][e]);
        replace[l].set(k, weightedAverage(members, counts));
      }
    }
  }
  return { weights: keepExperts(weights, kept, replace), plan: { mode: reduction.mode, kept, mergedInto } };
}
