// npm run bench:torch [-- --write-readme]: the torch executor on this machine's CPU, side by side with
// the reference executor (its peer on the proxy), and on one real-width MoE layer.
//   1. The trained proxy, exported as a bf16 Mixtral checkpoint, quantized (w4a16-g128-gptq, 4,096
//      calibration tokens) and evaluated (8,192 held-out bytes) by TorchExecutor and by
//      ReferenceExecutor, each cold (a fresh executor per repetition): medians of 3, and the ratio.
//   2. One Qwen3-30B-A3B decoder layer (its real widths: hidden 2048, 32/4 heads, experts of 768,
//      top-8) with 32 of its 128 experts, random weights, quantized by the torch executor on the CPU.
// Writes benchmarks/torch/results.json; --write-readme rewrites the README's torch-cpu block.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../../engine/stack/paths.js';
import { exportCompressedTensors } from '../../science/export/compressed-tensors/index.js';
import { ReferenceExecutor } from '../../science/executor/reference-executor.js';
import { TorchExecutor } from '../../science/executor/torch-executor.js';
import { builtinRecipe } from '../../science/recipes/builtin.js';
import { writeReadmeBlocks } from '../../scripts/readme-blocks.js';
import type { CheckpointModel } from '../../schema/torch-executor.js';
import { findTorchEnv } from '../../workers/torch-env.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const RESULTS = join(HERE, 'results.json');
const REPS = 3;
const CALIBRATION_TOKENS = 4096;
const EVAL_TOKENS = 8192;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function seconds<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
}

interface Side {
  quantizeSeconds: number[];
  evaluateSeconds: number[];
  bitsPerByte: number;
  kl: number;
}

async function main(): Promise<void> {
  const env = findTorchEnv();
  if ('missing' in env) throw new Error(env.missing);
  const work = mkdtempSync(join(tmpdir(), 'evoquant-bench-torch-'));
  try {
    await measure(env, work);
  } finally {
    rmSync(work, { recursive: true, force: true }); // ours: made above
  }
}

async function measure(env: { python: string; pythonPath: string }, work: string): Promise<void> {
  const recipe = builtinRecipe('w4a16-g128-gptq')!;
  const hf = join(work, 'proxy-hf');
  mkdirSync(hf, { recursive: true });
  for (const f of await exportCompressedTensors({ quantizedDir: join(repoRoot, 'artifacts/proxy') })) writeFileSync(join(hf, f.path), f.bytes);
  // Calibrated as the reference executor does (original activations), so the two sides compare like with like.
  const model: CheckpointModel = { checkpoint: hf, calibrationMode: 'original' };
  const processOptions = { python: env.python, env: { ...process.env, PYTHONPATH: env.pythonPath, HF_HUB_OFFLINE: '1' } };

  const sides: Record<'torch' | 'reference', Side> = {
    torch: { quantizeSeconds: [], evaluateSeconds: [], bitsPerByte: 0, kl: 0 },
    reference: { quantizeSeconds: [], evaluateSeconds: [], bitsPerByte: 0, kl: 0 },
  };
  for (let rep = 0; rep < REPS; rep++) {
    const request = { evolutionId: 'bench', candidateId: `rep-${rep}`, recipe, proxy: 'artifacts/proxy', calibrationTokens: CALIBRATION_TOKENS };
    const torch = new TorchExecutor({ artifactsDir: join(work, 'torch'), process: processOptions, cacheDir: join(work, `cache-${rep}`), device: 'cpu', memoryCapBytes: null, baseDir: repoRoot });
    const [q, tq] = await seconds(() => torch.quantize({ ...request, model }, () => undefined));
    const artifact = { candidateId: request.candidateId, path: q.path, proxyBytes: q.proxyBytes, workerIdentity: 'bench' };
    const [e, te] = await seconds(() => torch.evaluate({ candidateId: request.candidateId, artifact, proxy: request.proxy, tokens: EVAL_TOKENS, model }, undefined, () => undefined, () => undefined));
    sides.torch.quantizeSeconds.push(tq);
    sides.torch.evaluateSeconds.push(te);
    Object.assign(sides.torch, { bitsPerByte: e.bitsPerByte, kl: e.kl });

    const reference = new ReferenceExecutor({ artifactsDir: join(work, 'reference'), deviceMemoryBytes: 16 * 2 ** 30, baseDir: repoRoot });
    const [rq, rtq] = await seconds(() => reference.quantize(request, () => undefined));
    const rArtifact = { candidateId: request.candidateId, path: rq.path, proxyBytes: rq.proxyBytes, workerIdentity: 'bench' };
    const [re, rte] = await seconds(() => reference.evaluate({ candidateId: request.candidateId, artifact: rArtifact, proxy: request.proxy, tokens: EVAL_TOKENS }, undefined, () => undefined, () => undefined));
    sides.reference.quantizeSeconds.push(rtq);
    sides.reference.evaluateSeconds.push(rte);
    Object.assign(sides.reference, { bitsPerByte: re.bitsPerByte, kl: re.kl });
    console.log(`rep ${rep}: torch quantize ${tq.toFixed(1)} s, evaluate ${te.toFixed(1)} s; reference quantize ${rtq.toFixed(1)} s, evaluate ${rte.toFixed(1)} s`);
  }

  // The torch executor's own default, sequential calibration (GPTQModel's), on the same proxy.
  const sequentialModel: CheckpointModel = { checkpoint: hf, calibrationMode: 'sequential' };
  const seqTorch = new TorchExecutor({ artifactsDir: join(work, 'torch-seq'), process: processOptions, cacheDir: join(work, 'cache-seq'), device: 'cpu', memoryCapBytes: null, baseDir: repoRoot });
  const seqRequest = { evolutionId: 'bench', candidateId: 'sequential', recipe, proxy: 'artifacts/proxy', calibrationTokens: CALIBRATION_TOKENS, model: sequentialModel };
  const seqQ = await seqTorch.quantize(seqRequest, () => undefined);
  const seqE = await seqTorch.evaluate({ candidateId: 'sequential', artifact: { candidateId: 'sequential', path: seqQ.path, proxyBytes: seqQ.proxyBytes, workerIdentity: 'bench' }, proxy: 'artifacts/proxy', tokens: EVAL_TOKENS, model: sequentialModel }, undefined, () => undefined, () => undefined);
  const sequential = { bitsPerByte: seqE.bitsPerByte, kl: seqE.kl };

  // One Qwen3-30B-A3B layer, 32 of its experts, written by the GPU check's own checkpoint writer.
  const config = JSON.parse(readFileSync(join(repoRoot, 'science/model-configs/qwen3-30b-a3b.json'), 'utf8')) as Record<string, unknown>;
  const layerConfig = { ...config, num_hidden_layers: 1, max_window_layers: 1, num_experts: 32, vocab_size: 4096 };
  const layerDir = join(work, 'qwen3-30b-layer');
  mkdirSync(join(work, 'layer-config'), { recursive: true });
  writeFileSync(join(work, 'layer-config', 'config.json'), JSON.stringify(layerConfig));
  const made = spawnSync(env.python, ['-c', `import sys; sys.path.insert(0, 'benchmarks/gpu'); from torch_executor_gpu import write_random_checkpoint; from pathlib import Path; print(write_random_checkpoint(Path(sys.argv[1]), Path(sys.argv[2]), 0))`, join(work, 'layer-config', 'config.json'), layerDir], { cwd: repoRoot, encoding: 'utf8', env: processOptions.env });
  if (made.status !== 0) throw new Error(`random checkpoint: ${made.stderr}`);
  const torch = new TorchExecutor({ artifactsDir: join(work, 'torch-layer'), process: processOptions, cacheDir: join(work, 'cache-layer'), device: 'cpu', memoryCapBytes: null, baseDir: repoRoot, seq: 512 });
  const [layer, layerSeconds] = await seconds(() => torch.quantize({ evolutionId: 'bench', candidateId: 'layer', recipe, proxy: 'artifacts/proxy', calibrationTokens: CALIBRATION_TOKENS, model: { checkpoint: layerDir } }, () => undefined));
  const stored = JSON.parse(readFileSync(join(layer.path, 'evoquant-result.json'), 'utf8')) as { quantize: { result: { secondsPerLayer: number[]; peakMemoryBytes: number } } };

  const results = {
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism() },
    proxy: { recipe: 'w4a16-g128-gptq', calibrationTokens: CALIBRATION_TOKENS, evalTokens: EVAL_TOKENS, reps: REPS, torch: sides.torch, reference: sides.reference, sequential },
    layer: { shape: 'Qwen3-30B-A3B layer, 32 of 128 experts', parameters: Number(made.stdout.trim()), seconds: layerSeconds, secondsPerLayer: stored.quantize.result.secondsPerLayer[0], peakMemoryBytes: stored.quantize.result.peakMemoryBytes },
  };
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  const body = markdown(results);
  console.log(body);
  if (process.argv.includes('--write-readme')) {
    writeReadmeBlocks([{ name: 'torch-cpu', command: 'npm run bench:torch -- --write-readme', body }]);
    console.log('README.md: torch-cpu block rewritten');
  }
}

function markdown(r: {
  machine: { cpu: string; cores: number };
  proxy: { calibrationTokens: number; evalTokens: number; reps: number; torch: Side; reference: Side; sequential: { bitsPerByte: number; kl: number } };
  layer: { shape: string; secondsPerLayer: number; peakMemoryBytes: number };
}): string {
  const t = r.proxy.torch;
  const ref = r.proxy.reference;
  const mq = (s: Side) => median(s.quantizeSeconds);
  const me = (s: Side) => median(s.evaluateSeconds);
  return [
    `CPU: ${r.machine.cores} cores (${r.machine.cpu}). Proxy: w4a16-g128-gptq, ${r.proxy.calibrationTokens} calibration tokens (both calibrated on the unquantized activations, as the reference executor does), ${r.proxy.evalTokens} held-out bytes; each side cold, medians of ${r.proxy.reps}.`,
    '',
    '| proxy | torch executor | reference executor | torch / reference |',
    '|---|---:|---:|---:|',
    `| quantize (s, process start and calibration included) | ${mq(t).toFixed(1)} | ${mq(ref).toFixed(1)} | ${(mq(t) / mq(ref)).toFixed(2)} |`,
    `| evaluate (s, KL against the unquantized model included) | ${me(t).toFixed(1)} | ${me(ref).toFixed(1)} | ${(me(t) / me(ref)).toFixed(2)} |`,
    `| bits/byte | ${t.bitsPerByte.toFixed(6)} | ${ref.bitsPerByte.toFixed(6)} | Δ ${(t.bitsPerByte - ref.bitsPerByte).toExponential(1)} |`,
    `| KL (bits/byte) | ${t.kl.toExponential(3)} | ${ref.kl.toExponential(3)} | |`,
    `| the torch executor's default, sequential calibration: bits/byte, KL | ${r.proxy.sequential.bitsPerByte.toFixed(6)}, ${r.proxy.sequential.kl.toExponential(3)} | | |`,
    '',
    `${r.layer.shape} on the CPU: **${r.layer.secondsPerLayer.toFixed(1)} s** for the layer (sequential calibration over 4,096 tokens, batched GPTQ), peak ${(r.layer.peakMemoryBytes / 2 ** 30).toFixed(2)} GiB held.`,
  ].join('\n');
}

await main();
