// Linear assignment (the Hungarian method, in the O(n³) shortest-augmenting-path form of
// Jonker–Volgenant): the permutation of n columns to n rows that minimises the summed cost.
// Expert merging uses it to align one expert's intermediate neurons with another's before
// averaging them, as MC-SMoE (arXiv 2310.01334) does by weight matching.

/**
 * For a cost matrix [n, n] (row-major), `assign[row]` = the column given to that row, with
 * Σ cost[row, assign[row]] minimal. Costs must be finite.
 */
export function solveAssignment(cost: Float64Array, n: number): Int32Array {
  if (cost.length !== n * n) throw new RangeError(`assignment: cost has ${cost.length} entries, expected ${n}×${n}`);
  for (let i = 0; i < cost.length; i++) if (!Number.isFinite(cost[i])) throw new RangeError('assignment: costs must be finite');
  // 1-based potentials u (rows), v (columns); p[col] = the row matched to col (0 = none).
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const p = new Int32Array(n + 1);
  const way = new Int32Array(n + 1);
  const minv = new Float64Array(n + 1);
  const used = new Uint8Array(n + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = Infinity;
      let j1 = 0;
      const row = (i0 - 1) * n;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = cost[row + j - 1] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const assign = new Int32Array(n);
  for (let j = 1; j <= n; j++) assign[p[j] - 1] = j - 1;
  return assign;
}
