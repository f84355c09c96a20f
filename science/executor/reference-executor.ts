// The reference executor: quantize and evaluate candidates on the proxy with the CPU kernels.
// It keeps one calibrated copy of each proxy per process, writes artifacts atomically and reuses
// an artifact a lost attempt already finished.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { PromiseCache } from '../caching/promise-cache.js';
import { applyRecipe, ensureSensitivity, prepareModel, type PreparedModel } from '../compression/pipeline.js';
import { loadModel, writeQuantizedModel } from '../compression/quantized-format.js';
import type { EvalProgress } from '../evaluation/evaluate.js';
import { evaluateHeldOut } from '../evaluation/held-out.js';
import { ProxyModel } from '../model/forward.js';
import { canonicalJson } from '../../schema/content-hash.js';
import type { JsonValue } from '../../schema/db.js';
import type { EvaluateRequest, QuantizeRequest } from '../../schema/workflow-contracts.js';
import type { SensitivityProfile } from '../../schema/sensitivity.js';
import { ArtifactMissingError, OutOfDeviceMemoryError, UnsupportedRecipeError } from './errors.js';
import { LONG_CONTEXT_ORDER, ordersByLongContext } from '../../schema/recipe.js';
import type { EvaluateOutcome, Executor, Progress, QuantizeOutcome } from './executor.js';
import { denseWorkingSetBytes, workingSetBytes } from './memory.js';
import { DenseProxyRunner } from './dense-proxy.js';
import { proxyKind } from '../model/proxy-kind.js';
import { loadDenseWeights } from '../compression/dense-artifact.js';
import { readDenseConfig } from '../model/dense-load.js';
import { LONG_CONTEXT_BATCH } from '../long-context/bucketed-eval.js';

export interface ExecutorOptions {
  /** Where quantized models are written (shared by the workers of a pool). */
  artifactsDir: string;
  /** Memory of one device slot; candidates whose working set exceeds it fail as out-of-memory. */
  deviceMemoryBytes: number;
  /** Relative proxy paths resolve against this directory (the repository root). */
  baseDir: string;
  /** Where sensitivity profiles are cached (measured once per model, not per worker process). */
  sensitivityCacheDir?: string;
}

export type { Progress } from './executor.js';

const EVAL_BATCH_TOKENS = 32 * 128;

const asJson = (x: unknown): JsonValue => JSON.parse(JSON.stringify(x)) as JsonValue;

/**
 * An id as one directory name inside the artifacts dir: ids such as ".." or ones with a slash would
 * otherwise climb out of it. Such ids map to a stable hash, so that a retry finds the same artifact.
 */
export function pathComponent(id: string): string {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(id) ? id : `_${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

function isAllocationFailure(err: unknown): boolean {
  return err instanceof RangeError && /allocation failed|Invalid array length|Array buffer/i.test(err.message);
}

export class ReferenceExecutor implements Executor {
  private readonly prepared = new PromiseCache<PreparedModel>();
  private readonly baselines = new PromiseCache<number>();
  /** The unquantized proxy, loaded once per process: the reference of every evaluation. */
  private readonly references = new PromiseCache<ProxyModel>();
  private readonly dense = new DenseProxyRunner(() => this.options.sensitivityCacheDir);

  constructor(private readonly options: ExecutorOptions) {}

  private proxyDir(proxy: string): string {
    return isAbsolute(proxy) ? proxy : resolve(this.options.baseDir, proxy);
  }

  private prepare(proxy: string, calibrationTokens: number, onProgress: (p: Progress) => void): Promise<PreparedModel> {
    return this.prepared.get(`${this.proxyDir(proxy)}:${calibrationTokens}`, () =>
      prepareModel(this.proxyDir(proxy), { calibration: { tokens: calibrationTokens }, onProgress: (stage, done, total) => onProgress({ stage, done, total }) }),
    );
  }

  artifactPath(evolutionId: string, candidateId: string): string {
    return join(this.options.artifactsDir, pathComponent(evolutionId), pathComponent(candidateId));
  }

  private checkMemory(need: number, what: string): void {
    if (need > this.options.deviceMemoryBytes) {
      throw new OutOfDeviceMemoryError(`${what} needs ${(need / 2 ** 20).toFixed(1)} MiB, the device slot has ${(this.options.deviceMemoryBytes / 2 ** 20).toFixed(1)} MiB`);
    }
  }

  async quantize(req: QuantizeRequest, onProgress: (p: Progress) => void): Promise<QuantizeOutcome> {
    const path = this.artifactPath(req.evolutionId, req.candidateId);
    const dense = proxyKind(this.proxyDir(req.proxy)) === 'dense';
    const existing = this.reusable(path, req, dense);
    if (existing !== null) return { path, proxyBytes: existing, reused: true };
    try {
      if (dense) {
        this.checkMemory(denseWorkingSetBytes(readDenseConfig(this.proxyDir(req.proxy)), LONG_CONTEXT_BATCH), `quantizing ${req.recipe.name}`);
        const qd = await this.dense.quantize(this.proxyDir(req.proxy), req.recipe, req.calibrationTokens, (stage, done, total) => onProgress({ stage, done, total }));
        onProgress({ stage: 'write', done: 0, total: 1 });
        const written = writeQuantizedModel(path, qd, qd.weights.config, { replace: false });
        return { path, proxyBytes: qd.bytes.total, reused: !written };
      }
      if (ordersByLongContext(req.recipe)) {
        throw new UnsupportedRecipeError(`a depth band ordered by ${LONG_CONTEXT_ORDER} needs a dense long-context proxy; the MoE proxy's windows are too short to measure it`);
      }
      const prepared = await this.prepare(req.proxy, req.calibrationTokens, onProgress);
      this.checkMemory(workingSetBytes(prepared.weights.config, EVAL_BATCH_TOKENS), `quantizing ${req.recipe.name}`);
      const qp = await applyRecipe(prepared, req.recipe, {
        sensitivityCacheDir: this.options.sensitivityCacheDir,
        onProgress: (stage, done, total) => onProgress({ stage, done, total }),
      });
      onProgress({ stage: 'write', done: 0, total: 1 });
      // Content-addressed: if a parallel attempt finished first, its identical artifact stands.
      const written = writeQuantizedModel(path, qp, prepared.weights.config, { replace: false });
      return { path, proxyBytes: qp.bytes.total, reused: !written };
    } catch (err) {
      if (isAllocationFailure(err)) throw new OutOfDeviceMemoryError(`allocation failed while quantizing ${req.recipe.name}: ${(err as Error).message}`);
      throw err;
    }
  }

  /** The proxy's sensitivity profile (measured once, then cached like the one expert-layer recipes use): what the allocator prices with. */
  async sensitivityProfile(proxy: string, calibrationTokens: number, onProgress: (p: Progress) => void): Promise<SensitivityProfile> {
    const prepared = await this.prepare(proxy, calibrationTokens, onProgress);
    return ensureSensitivity(prepared, { sensitivityCacheDir: this.options.sensitivityCacheDir, onProgress: (stage, done, total) => onProgress({ stage, done, total }) });
  }

  /** An artifact a previous attempt completed for the same recipe: its stored bytes, else null. */
  private reusable(path: string, req: QuantizeRequest, dense: boolean): number | null {
    if (!existsSync(join(path, 'model.safetensors'))) return null;
    try {
      const stored = (dense ? loadDenseWeights(path) : loadModel(path)).quantization;
      if (!stored || canonicalJson(asJson(stored.recipe)) !== canonicalJson(asJson(req.recipe))) return null;
      return stored.stored_bytes;
    } catch {
      return null;
    }
  }

  private baselineTop1(proxy: string, tokens: number): Promise<number> {
    return this.baselines.get(`${this.proxyDir(proxy)}:${tokens}`, async () => (await evaluateHeldOut(await this.referenceModel(proxy), { tokens })).top1);
  }

  private referenceModel(proxy: string): Promise<ProxyModel> {
    const dir = this.proxyDir(proxy);
    return this.references.get(dir, async () => new ProxyModel(loadModel(dir)));
  }

  async evaluate(
    req: EvaluateRequest,
    resume: EvalProgress | undefined,
    onBatch: (p: EvalProgress) => void,
    onProgress: (p: Progress) => void,
  ): Promise<EvaluateOutcome> {
    const path = req.artifact.path;
    if (!existsSync(join(path, 'model.safetensors'))) throw new ArtifactMissingError(`artifact ${path} is not on this worker`);
    const proxyDir = this.proxyDir(req.proxy);
    if (proxyKind(proxyDir) === 'dense') {
      this.checkMemory(denseWorkingSetBytes(readDenseConfig(proxyDir), LONG_CONTEXT_BATCH), `evaluating ${req.candidateId}`);
      return this.dense.evaluate(proxyDir, path, req.tokens, (done, total) => onProgress({ stage: 'evaluate', done, total }));
    }
    const reference = await this.referenceModel(req.proxy);
    const model = new ProxyModel(loadModel(path));
    this.checkMemory(workingSetBytes(model.config, EVAL_BATCH_TOKENS), `evaluating ${req.candidateId}`);
    const metrics = await evaluateHeldOut(model, {
      tokens: req.tokens,
      reference: { key: proxyDir, model: reference },
      resume,
      onBatch,
      onProgress: (done, total) => onProgress({ stage: 'evaluate', done, total }),
    });
    return {
      bitsPerByte: metrics.bitsPerByte,
      top1: metrics.top1,
      kl: metrics.klBitsPerByte ?? 0,
      baselineTop1: await this.baselineTop1(req.proxy, req.tokens),
      expertFrequency: metrics.expertFrequency,
    };
  }
}
