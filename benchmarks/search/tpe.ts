// Optuna's TPE (optuna_tpe.py in the project's Python environment) over the gene space exported
// from gene-space.ts, evaluating through the same entry random search uses.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { EvaluationRecord } from './evaluation.js';
import { evaluatorCommand } from './evaluator-client.js';
import { geneSpaceJson } from './gene-space.js';
import { tracePoint } from './random-search.js';
import { MAX_DRAWS_PER_EVALUATION } from './setting.js';
import type { RunTrace } from './trace.js';

const SCRIPT = resolve(import.meta.dirname, 'optuna_tpe.py');
const Output = z.object({ evaluations: z.array(EvaluationRecord), refused: z.number().int(), trials: z.number().int(), optuna: z.string() });

export async function tpeSearch(python: string, workDir: string, seed: number, budget: number): Promise<RunTrace & { optuna: string }> {
  const started = performance.now();
  const space = join(workDir, 'gene-space.json');
  writeFileSync(space, JSON.stringify(geneSpaceJson()));
  const { stdout } = await promisify(execFile)(
    python,
    [SCRIPT, '--space', space, '--seed', String(seed), '--budget', String(budget), '--max-trials', String(budget * MAX_DRAWS_PER_EVALUATION), '--', ...evaluatorCommand(workDir)],
    { maxBuffer: 64 * 2 ** 20 },
  );
  const out = Output.parse(JSON.parse(stdout));
  return {
    method: 'tpe',
    seed,
    evaluations: out.evaluations.map((r, i) => tracePoint(i + 1, r)),
    rejected: out.refused,
    seconds: (performance.now() - started) / 1000,
    optuna: out.optuna,
  };
}
