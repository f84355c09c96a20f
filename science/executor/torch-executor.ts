// The torch executor: quantizes and evaluates candidates on a real Hugging Face checkpoint
// (QuantizeRequest.model) through the Python package python/evoquant_torch, one fresh process per
// request (torch-process.ts). Artifacts go where the reference executor puts them (artifactPath),
// so retries and the artifact-missing fallback behave the same; each outcome is also written
// atomically next to the artifact as evoquant-result.json.
import type { KvPolicy } from '../../schema/kv-policy.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { PromiseCache } from '../caching/promise-cache.js';
import type { EvalProgress } from '../evaluation/evaluate.js';
import type { SensitivityProfile } from '../../schema/sensitivity.js';
import type {
  CalibrationText,
  CheckpointModel,
  DescribeResult,
  TorchDevice,
  TorchEvaluateResult,
  TorchQuantizeResult,
  TorchRequest,
  TorchResultOf,
} from '../../schema/torch-executor.js';
import type { EvaluateRequest, QuantizeRequest } from '../../schema/workflow-contracts.js';
import { defaultTexts } from './default-text.js';
import { DeviceSlots, gpuEnv } from './device-slots.js';
import { ArtifactMissingError, InvalidExecutorRequestError, UnsupportedModelError } from './errors.js';
import type { EvaluateOutcome, Executor, Progress, QuantizeOutcome } from './executor.js';
import { pathComponent } from './reference-executor.js';
import { runTorchExecutor, type TorchProcessOptions, type TorchRunHooks } from './torch-process.js';
import { planOf } from './torch-plan.js';

export const RESULT_FILE = 'evoquant-result.json';

export interface TorchExecutorOptions {
  /** Where quantized checkpoints are written (shared by the workers of a pool). */
  artifactsDir: string;
  /** The interpreter and environment (PYTHONPATH, CUDA_VISIBLE_DEVICES) of each executor process. */
  process: TorchProcessOptions;
  /** This worker's cache: the exported default texts and the reference logits. */
  cacheDir: string;
  /** Where a model that names none runs: 'cuda' on a GPU worker, 'cpu' on the cpu pool. */
  device: TorchDevice;
  /** The executor's memory cap (a slot's share of the device); null: the whole device. */
  memoryCapBytes: number | null;
  /** Relative checkpoint and text paths resolve against this directory (the repository root). */
  baseDir: string;
  /** Tokens per calibration / evaluation window (default 128, the proxy's: conformance compares like with like). */
  seq?: number;
  /** Windows per forward batch (default 8). */
  batch?: number;
  /** Calibration: every expert gets at least this many tokens (default 256, as the reference's). */
  minTokensPerExpert?: number;
  /** CUDA device ids (nvidia-smi's index) the worker's slots share, one per running process; absent: the inherited CUDA_VISIBLE_DEVICES. */
  gpus?: readonly string[];
}

const DEFAULT_SEQ = 128;
const DEFAULT_BATCH = 8;
const DEFAULT_MIN_TOKENS_PER_EXPERT = 256;

interface ResultFile {
  /** kvCache: the recipe's KV policy, which the evaluation of this artifact stores its cache by. */
  quantize?: { request: { recipeName: string; recipeHash: string; checkpoint: string; kvCache?: KvPolicy }; result: TorchQuantizeResult };
  evaluate?: { request: { candidateId: string; tokens: number; files: string[] }; result: TorchEvaluateResult };
}

/** Writes `value` as `path` via a temporary sibling and a rename: readers see the old or the new file, never half. */
function writeJsonAtomically(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

function readResultFile(dir: string): ResultFile {
  try {
    return JSON.parse(readFileSync(join(dir, RESULT_FILE), 'utf8')) as ResultFile;
  } catch {
    return {};
  }
}

/** Size and modification time: enough to notice a file replaced under the same name. */
function fileState(path: string): [number, number] {
  const st = statSync(path);
  return [st.size, st.mtimeMs];
}

/** The state of a checkpoint directory's config and weight files. */
function filesState(dir: string): Array<[string, number, number]> {
  return readdirSync(dir)
    .filter((f) => f === 'config.json' || f.endsWith('.safetensors'))
    .sort()
    .map((f) => [f, ...fileState(join(dir, f))]);
}

function readBaseline(path: string): number | null {
  try {
    const top1: unknown = (JSON.parse(readFileSync(path, 'utf8')) as { top1?: unknown }).top1;
    return typeof top1 === 'number' && top1 >= 0 && top1 <= 1 ? top1 : null;
  } catch {
    return null;
  }
}

export class TorchExecutor implements Executor {
  private readonly described = new PromiseCache<DescribeResult>();
  /** The unquantized checkpoint's own top-1 on the text: what relative accuracy loss is measured against. */
  private readonly baselines = new PromiseCache<number>();

  private readonly slots: DeviceSlots | null;

  constructor(private readonly options: TorchExecutorOptions) {
    this.slots = options.gpus && options.gpus.length > 0 ? new DeviceSlots(options.gpus) : null;
  }

  /** One executor process; a CUDA one on a GPU of its own. */
  private run<K extends TorchRequest['kind']>(request: Extract<TorchRequest, { kind: K }>, hooks: TorchRunHooks): Promise<TorchResultOf[K]> {
    const onCuda = 'device' in request && request.device === 'cuda';
    if (!onCuda || this.slots === null) return runTorchExecutor(this.options.process, request, hooks);
    return this.slots.with((gpu) => runTorchExecutor({ ...this.options.process, env: gpuEnv(this.options.process.env ?? process.env, gpu) }, request, hooks));
  }

  private abs(path: string): string {
    return isAbsolute(path) ? path : resolve(this.options.baseDir, path);
  }

  artifactPath(evolutionId: string, candidateId: string): string {
    return join(this.options.artifactsDir, pathComponent(evolutionId), pathComponent(candidateId));
  }

  private texts(model: CheckpointModel): { calibration: string[]; evaluation: string[] } {
    const needDefault = model.calibrationText === undefined || model.evaluationText === undefined;
    const shipped = needDefault ? defaultTexts(this.options.cacheDir) : null;
    return {
      calibration: model.calibrationText?.map((f) => this.abs(f)) ?? [shipped!.calibration],
      evaluation: model.evaluationText?.map((f) => this.abs(f)) ?? [shipped!.evaluation],
    };
  }

  private device(model: CheckpointModel): TorchDevice {
    // The pool is one kind of machine: a CUDA model on a CPU worker fails on every attempt.
    if (model.device === 'cuda' && this.options.device === 'cpu') {
      throw new UnsupportedModelError(`checkpoint ${model.checkpoint} asks for device cuda; this worker runs torch on the CPU (use a GPU pool, or device cpu)`);
    }
    return model.device ?? this.options.device;
  }

  /** The checkpoint's architecture and modules, asked once per checkpoint and process. */
  describe(checkpoint: string, signal?: AbortSignal): Promise<DescribeResult> {
    const dir = this.abs(checkpoint);
    return this.described.get(dir, () => this.run({ kind: 'describe', checkpoint: dir }, { signal }));
  }

  private modelOf(req: { model?: CheckpointModel; candidateId: string }): CheckpointModel {
    // The dispatcher sends only checkpoint requests here; a proxy one is a wiring bug.
    if (req.model === undefined) throw new InvalidExecutorRequestError(`candidate ${req.candidateId}: the torch executor needs a checkpoint model (the proxy runs on the reference executor)`);
    return req.model;
  }

  async quantize(req: QuantizeRequest, onProgress: (p: Progress) => void, signal?: AbortSignal): Promise<QuantizeOutcome> {
    const model = this.modelOf(req);
    const checkpoint = this.abs(model.checkpoint);
    const device = this.device(model);
    onProgress({ stage: 'load', done: 0, total: 1 });
    const described = await this.describe(checkpoint, signal);
    const calibration: CalibrationText = {
      files: this.texts(model).calibration,
      tokens: req.calibrationTokens,
      seq: this.options.seq ?? DEFAULT_SEQ,
      batch: this.options.batch ?? DEFAULT_BATCH,
      minTokensPerExpert: described.numExperts > 0 ? (this.options.minTokensPerExpert ?? DEFAULT_MIN_TOKENS_PER_EXPERT) : 0,
      mode: model.calibrationMode ?? 'sequential',
    };
    const plan = planOf(req.recipe, described, calibration);
    const output = this.artifactPath(req.evolutionId, req.candidateId);
    mkdirSync(dirname(output), { recursive: true });
    const result = await this.run(
      { kind: 'quantize', checkpoint, output, plan, calibration, device, memoryCapBytes: this.options.memoryCapBytes },
      { signal, onProgress: (p) => onProgress(p) },
    );
    const file = readResultFile(output);
    file.quantize = { request: { recipeName: plan.recipeName, recipeHash: plan.recipeHash, checkpoint, ...(req.recipe.kvCache ? { kvCache: req.recipe.kvCache } : {}) }, result };
    writeJsonAtomically(join(output, RESULT_FILE), file);
    return { path: output, proxyBytes: result.storedBytes, reused: result.reused, peakMemoryBytes: result.peakMemoryBytes };
  }

  /**
   * The unquantized checkpoint's top-1 on the evaluation text: one full pass of the original model,
   * so it is kept on disk (keyed by the checkpoint's files as they are now and the text windows)
   * and survives worker restarts.
   */
  private baselineTop1(model: CheckpointModel, files: string[], tokens: number, signal?: AbortSignal): Promise<number> {
    const checkpoint = this.abs(model.checkpoint);
    const device = this.device(model);
    const text = this.evalText(files, tokens);
    const key = createHash('sha256').update(JSON.stringify([filesState(checkpoint), files.map((f) => [f, ...fileState(f)]), text.tokens, text.seq])).digest('hex');
    const cached = join(this.options.cacheDir, 'baselines', `${key}.json`);
    return this.baselines.get(key, async () => {
      const stored = readBaseline(cached);
      if (stored !== null) return stored;
      const r = await this.run(
        { kind: 'evaluate', model: checkpoint, reference: null, text, cacheDir: this.options.cacheDir, device, memoryCapBytes: this.options.memoryCapBytes },
        { signal },
      );
      writeJsonAtomically(cached, { checkpoint, files, tokens: text.tokens, seq: text.seq, top1: r.top1 });
      return r.top1;
    });
  }

  private evalText(files: string[], tokens: number): { files: string[]; tokens: number; seq: number; batch: number } {
    return { files, tokens, seq: this.options.seq ?? DEFAULT_SEQ, batch: this.options.batch ?? DEFAULT_BATCH };
  }

  async evaluate(
    req: EvaluateRequest,
    _resume: EvalProgress | undefined,
    _onBatch: (p: EvalProgress) => void,
    onProgress: (p: Progress) => void,
    signal?: AbortSignal,
  ): Promise<EvaluateOutcome> {
    const model = this.modelOf(req);
    const device = this.device(model);
    const path = req.artifact.path;
    if (!existsSync(join(path, 'config.json'))) throw new ArtifactMissingError(`artifact ${path} is not on this worker`);
    const files = this.texts(model).evaluation;
    // The cache is stored as the candidate's recipe says (recorded next to the artifact at quantize).
    const kvCache = readResultFile(path).quantize?.request.kvCache;
    const result = await this.run(
      {
        kind: 'evaluate',
        ...(kvCache ? { kvCache } : {}),
        model: path,
        reference: this.abs(model.checkpoint),
        text: this.evalText(files, req.tokens),
        cacheDir: this.options.cacheDir,
        device,
        memoryCapBytes: this.options.memoryCapBytes,
      },
      { signal, onProgress: (p) => onProgress(p) },
    );
    const baselineTop1 = await this.baselineTop1(model, files, req.tokens, signal);
    const file = readResultFile(path);
    file.evaluate = { request: { candidateId: req.candidateId, tokens: req.tokens, files }, result };
    writeJsonAtomically(join(path, RESULT_FILE), file);
    return {
      bitsPerByte: result.bitsPerByte,
      top1: result.top1,
      // As the reference executor: KL in bits per byte of text (0 when no reference was compared).
      kl: result.klBitsPerByte ?? 0,
      baselineTop1,
      expertFrequency: result.expertFrequency,
      measuredMemory: { peakBytes: result.peakMemoryBytes, deviceTotalBytes: result.deviceTotalBytes, weightBytes: result.weightBytes },
    };
  }

  sensitivityProfile(): Promise<SensitivityProfile> {
    // Sensitivity profiles are the proxy's (the allocator prices bits with them): the dispatcher
    // sends these to the reference executor.
    return Promise.reject(new InvalidExecutorRequestError('the torch executor measures no sensitivity profile; the reference executor does, on the proxy'));
  }
}
