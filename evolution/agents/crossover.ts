// Crossover of two lineages: each gene group of the child comes from one parent or the other, drawn
// by the random source (uniform crossover over gene groups, not over bytes: a group such as the
// default's bits/grid or the expert-layer policy is only meaningful whole).
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { Recipe } from '../../schema/recipe.js';

type Gene = (child: Recipe, donor: Recipe) => void;

const GENES: readonly Gene[] = [
  // The grid: bits, format, group size and symmetry move together.
  (c, d) => {
    c.default = { ...c.default, bits: d.default.bits, format: d.default.format, groupSize: d.default.groupSize, symmetric: d.default.symmetric };
  },
  (c, d) => {
    c.default = { ...c.default, method: d.default.method };
  },
  (c, d) => {
    c.default = { ...c.default, outliers: d.default.outliers, rotation: d.default.rotation };
  },
  (c, d) => {
    c.roles = structuredClone(d.roles);
  },
  (c, d) => {
    c.depth = structuredClone(d.depth);
  },
  (c, d) => {
    c.experts = structuredClone(d.experts);
    c.expertLayers = structuredClone(d.expertLayers);
  },
  (c, d) => {
    if (d.kvCache) c.kvCache = structuredClone(d.kvCache);
    else delete c.kvCache;
    c.activations = d.activations;
  },
];

/** A child with every gene group from `a` or `b`; null when the mix is not a valid recipe or equals a parent. */
export function crossover(a: Recipe, b: Recipe, rng: RandomGenerator): Recipe | null {
  const child = structuredClone(a);
  let fromB = 0;
  for (const gene of GENES) {
    if (uniformInt(rng, 0, 1) === 1) {
      gene(child, b);
      fromB++;
    }
  }
  if (fromB === 0 || fromB === GENES.length) return null;
  child.name = `${a.name}×${b.name}`.slice(0, 120);
  if (child.experts === undefined) delete child.experts;
  if (child.expertLayers === undefined) delete child.expertLayers;
  if (child.default.outliers === undefined) delete child.default.outliers;
  if (child.default.rotation === undefined) delete child.default.rotation;
  const parsed = Recipe.safeParse(child);
  return parsed.success ? parsed.data : null;
}
