// Random search over the gene space: each draw uniform and independent (seeded PRNG), moved onto the
// stack, refused by compile for free when it cannot be served or fit, evaluated otherwise, until the
// budget of evaluations is spent. Repeated draws of one policy are counted again, as random search
// would pay for them; the evaluator's cache only saves the wall-clock time.
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { countsAsEvaluation, type EvaluationRecord } from './evaluation.js';
import type { EvaluatorClient } from './evaluator-client.js';
import { sampleGenes } from './gene-space.js';
import { MAX_DRAWS_PER_EVALUATION } from './setting.js';
import type { RunTrace, TracePoint } from './trace.js';

export function tracePoint(index: number, r: EvaluationRecord): TracePoint {
  const feasible = r.status === 'evaluated' && r.fits === true && r.servable && r.deltaBitsPerByte !== null;
  return { index, recipeName: r.recipeName ?? 'not servable', policyHash: r.policyHash, feasible, deltaBitsPerByte: feasible ? r.deltaBitsPerByte : null, gbPerGpu: r.gbPerGpu };
}

export async function randomSearch(evaluator: EvaluatorClient, seed: number, budget: number): Promise<RunTrace> {
  const started = performance.now();
  const rng = xoroshiro128plus(seed);
  const evaluations: TracePoint[] = [];
  let rejected = 0;
  for (let draws = 0; evaluations.length < budget && draws < budget * MAX_DRAWS_PER_EVALUATION; draws++) {
    const r = await evaluator.evaluate(sampleGenes(rng));
    if (countsAsEvaluation(r)) evaluations.push(tracePoint(evaluations.length + 1, r));
    else rejected++;
  }
  return { method: 'random', seed, evaluations, rejected, seconds: (performance.now() - started) / 1000 };
}
