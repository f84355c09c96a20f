// One evaluation of a recipe, the same path the engine's CPU pool takes for a candidate: compile on
// the target (activities/compile-verdict.ts) refuses what cannot be served or cannot fit before any
// compute; then the reference executor (the CPU pool worker's) quantizes the proxy with the recipe
// and evaluates it on held-out text. Results are cached by policy hash: quantization and evaluation
// are deterministic for a given recipe, proxy and token counts (seeded calibration windows, fixed
// held-out windows, no sampling), so a repeat returns the same figures without recomputing them.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { compileVerdict } from '../../activities/compile-verdict.js';
import { policyHash } from '../../evolution/proposer/candidate-id.js';
import { loadModel } from '../../science/compression/quantized-format.js';
import { evaluateHeldOut } from '../../science/evaluation/held-out.js';
import { ReferenceExecutor } from '../../science/executor/reference-executor.js';
import { getHardwareProfile } from '../../science/hardware/profiles.js';
import { ProxyModel } from '../../science/model/forward.js';
import type { Recipe } from '../../schema/recipe.js';
import { servablePoint, type Genes } from './gene-space.js';
import { EVALUATION, PROXY, TARGET } from './setting.js';

export const EvaluationRecord = z
  .object({
    policyHash: z.string().nullable(),
    recipeName: z.string().nullable(),
    /** not-servable: no servable neighbour; rejected: compile refused it (free, not an evaluation). */
    status: z.enum(['not-servable', 'rejected', 'evaluated', 'failed']),
    servable: z.boolean(),
    fits: z.boolean().nullable(),
    gbPerGpu: z.number().nullable(),
    violations: z.array(z.string()),
    bitsPerByte: z.number().nullable(),
    /** bits/byte minus the unquantized (bf16) proxy's on the same held-out windows. */
    deltaBitsPerByte: z.number().nullable(),
    kl: z.number().nullable(),
    top1: z.number().nullable(),
    error: z.string().nullable(),
    cached: z.boolean(),
    seconds: z.number(),
  })
  .strict();
export type EvaluationRecord = z.infer<typeof EvaluationRecord>;

/** True when the record cost an evaluation (quantize + evaluate ran, or would have without the cache). */
export const countsAsEvaluation = (r: EvaluationRecord): boolean => r.status === 'evaluated' || r.status === 'failed';

export interface EvaluatorInfo {
  baselineBitsPerByte: number;
  capacityGb: number;
  tokens: number;
  calibrationTokens: number;
}

const repoRoot = resolve(import.meta.dirname, '../..');
const settingsKey = `t${EVALUATION.tokens}-c${EVALUATION.calibrationTokens}`;

export class SearchEvaluator {
  private readonly executor: ReferenceExecutor;
  private readonly cacheDir: string;
  private baseline: number | null = null;

  constructor(private readonly workDir: string) {
    this.cacheDir = join(workDir, 'evaluations', settingsKey);
    mkdirSync(this.cacheDir, { recursive: true });
    this.executor = new ReferenceExecutor({
      artifactsDir: join(workDir, 'artifacts'),
      // As the CPU pool worker: half the RAM per slot.
      deviceMemoryBytes: Math.floor(totalmem() / 2),
      baseDir: repoRoot,
      sensitivityCacheDir: join(workDir, 'sensitivity'),
    });
  }

  /** The unquantized proxy's bits/byte on the evaluation's held-out windows (cached like any result). */
  async info(): Promise<EvaluatorInfo> {
    if (this.baseline === null) {
      const file = join(this.cacheDir, 'bf16-baseline.json');
      if (existsSync(file)) this.baseline = z.object({ bitsPerByte: z.number() }).parse(JSON.parse(readFileSync(file, 'utf8'))).bitsPerByte;
      else {
        const m = await evaluateHeldOut(new ProxyModel(loadModel(join(repoRoot, PROXY))), { tokens: EVALUATION.tokens });
        this.baseline = m.bitsPerByte;
        this.write(file, { bitsPerByte: m.bitsPerByte });
      }
    }
    return { baselineBitsPerByte: this.baseline, capacityGb: getHardwareProfile(TARGET.hardware).memoryBytes / 1e9, ...EVALUATION };
  }

  private write(file: string, value: unknown): void {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(value));
    renameSync(tmp, file);
  }

  async evaluateGenes(genes: Genes): Promise<EvaluationRecord> {
    const recipe = servablePoint(genes);
    if (recipe === null) return { ...EMPTY, status: 'not-servable', servable: false };
    return this.evaluateRecipe(recipe);
  }

  async evaluateRecipe(recipe: Recipe): Promise<EvaluationRecord> {
    const started = performance.now();
    const { baselineBitsPerByte } = await this.info();
    const hash = policyHash(recipe);
    const file = join(this.cacheDir, `${hash}.json`);
    if (existsSync(file)) return { ...EvaluationRecord.parse(JSON.parse(readFileSync(file, 'utf8'))), recipeName: recipe.name, cached: true, seconds: (performance.now() - started) / 1000 };
    const verdict = compileVerdict({ candidate: { id: hash, generation: 0, recipe, parents: [], technique: null }, target: TARGET });
    const base = { ...EMPTY, policyHash: hash, recipeName: recipe.name, fits: verdict.fits, gbPerGpu: verdict.gbPerGpu, violations: verdict.violations, servable: verdict.violations.every((v) => v === 'does-not-fit') };
    let record: EvaluationRecord;
    if (verdict.violations.length > 0) record = { ...base, status: 'rejected' };
    else {
      try {
        const artifact = await this.executor.quantize({ evolutionId: 'bench-search', candidateId: hash, recipe, proxy: PROXY, calibrationTokens: EVALUATION.calibrationTokens }, () => undefined);
        try {
          const m = await this.executor.evaluate(
            { candidateId: hash, artifact: { candidateId: hash, path: artifact.path, proxyBytes: artifact.proxyBytes, workerIdentity: 'bench-search' }, proxy: PROXY, tokens: EVALUATION.tokens },
            undefined,
            () => undefined,
            () => undefined,
          );
          record = { ...base, status: 'evaluated', bitsPerByte: m.bitsPerByte, deltaBitsPerByte: m.bitsPerByte - baselineBitsPerByte, kl: m.kl, top1: m.top1 };
        } finally {
          // The figures are kept; the quantized proxy is not needed again.
          rmSync(artifact.path, { recursive: true, force: true });
        }
      } catch (err) {
        record = { ...base, status: 'failed', error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      }
    }
    record.seconds = (performance.now() - started) / 1000;
    this.write(file, record);
    return record;
  }
}

const EMPTY: EvaluationRecord = {
  policyHash: null,
  recipeName: null,
  status: 'not-servable',
  servable: false,
  fits: null,
  gbPerGpu: null,
  violations: [],
  bitsPerByte: null,
  deltaBitsPerByte: null,
  kl: null,
  top1: null,
  error: null,
  cached: false,
  seconds: 0,
};
