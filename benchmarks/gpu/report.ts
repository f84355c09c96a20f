// npm run report:gpu [-- <gpu-check.json>] [--write-readme]: renders what benchmarks/gpu/run.sh
// measured on a GPU machine (default: the committed benchmarks/gpu/results/gpu-check.json) as the
// README's `gpu-check` block. The numbers come from the file the GPU run wrote, never by hand.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { writeReadmeBlocks } from '../../scripts/readme-blocks.js';

const DEFAULT = fileURLToPath(new URL('./results/gpu-check.json', import.meta.url));

const GpuCheck = z.object({
  environment: z.object({ torch: z.string(), cuda: z.string().nullable(), gpus: z.array(z.string()), cpuCount: z.number(), gptqmodel: z.string().nullable() }).loose(),
  model: z.object({ parameters: z.number(), layers: z.number(), experts: z.number() }),
  gpu: z.object({ secondsPerLayer: z.array(z.number()), peakMemoryBytes: z.number(), deviceTotalBytes: z.number().nullable(), quantizeSeconds: z.number() }),
  memory: z.object({
    residentAsVllmBytes: z.number(),
    predictedWeightBytes: z.number(),
    residentVsPrediction: z.number(),
    checkpointTensorBytes: z.number(),
    predictedCheckpointBytes: z.number(),
    checkpointVsPrediction: z.number(),
  }),
  evaluate: z.object({ tokens: z.number(), klBitsPerByte: z.number().nullable(), peakMemoryBytes: z.number() }),
  cpuVsGpu: z.object({ layer: z.string(), gpuSecondsPerLayer: z.number(), cpuSecondsPerLayer: z.number(), cpuThreads: z.number(), speedup: z.number(), gptqmodel: z.string() }),
});
type GpuCheck = z.infer<typeof GpuCheck>;

const gb = (b: number): string => (b / 1e9).toFixed(3);
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(3)}%`;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export function gpuCheckMarkdown(r: GpuCheck): string {
  const gpu = r.environment.gpus.join(', ') || 'none';
  return [
    `Measured on ${gpu} (torch ${r.environment.torch}, CUDA ${r.environment.cuda ?? '—'}, ${r.environment.cpuCount} CPU cores). Model: a random-initialised Qwen3-MoE of ${r.model.layers} real Qwen3-235B-A22B layers (${r.model.experts} experts each), ${(r.model.parameters / 1e9).toFixed(2)} B parameters; recipe w4a16-g128-gptq, sequential calibration, 4,096 tokens.`,
    '',
    '| measurement | measured | compile predicts | difference |',
    '|---|---:|---:|---:|',
    `| quantized weights resident on the GPU as vLLM holds them (int32-packed codes and zero points, bf16 scales) | ${gb(r.memory.residentAsVllmBytes)} GB | ${gb(r.memory.predictedWeightBytes)} GB | ${pct(r.memory.residentVsPrediction)} |`,
    `| checkpoint tensors written (fp32 scales) | ${gb(r.memory.checkpointTensorBytes)} GB | ${gb(r.memory.predictedCheckpointBytes)} GB | ${pct(r.memory.checkpointVsPrediction)} |`,
    `| peak GPU memory while quantizing (\`max_memory_allocated\`; one layer, its Hessians, GPTQ batches) | ${gb(r.gpu.peakMemoryBytes)} GB | — | of ${r.gpu.deviceTotalBytes === null ? '—' : gb(r.gpu.deviceTotalBytes)} GB |`,
    `| peak GPU memory while evaluating ${r.evaluate.tokens} tokens (layer-streamed, KL against the cached original) | ${gb(r.evaluate.peakMemoryBytes)} GB | — | KL ${r.evaluate.klBitsPerByte === null ? '—' : r.evaluate.klBitsPerByte.toExponential(2)} bits/byte |`,
    '',
    '| time per layer (GPTQ w4 g128, act-order) | seconds |',
    '|---|---:|',
    `| one full Qwen3-235B layer (128 experts) on the GPU, median of ${r.gpu.secondsPerLayer.length} | ${median(r.gpu.secondsPerLayer).toFixed(1)} |`,
    `| ${r.cpuVsGpu.layer}, GPU | ${r.cpuVsGpu.gpuSecondsPerLayer.toFixed(1)} |`,
    `| the same, CPU path (${r.cpuVsGpu.cpuThreads} threads) | ${r.cpuVsGpu.cpuSecondsPerLayer.toFixed(1)} (GPU ${r.cpuVsGpu.speedup.toFixed(1)}× faster) |`,
    `| GPTQModel on the same layer | ${r.cpuVsGpu.gptqmodel === 'not installed on this machine' || r.cpuVsGpu.gptqmodel === null ? 'not installed on the GPU machine (no registry there): not measured' : r.cpuVsGpu.gptqmodel} |`,
  ].join('\n');
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--')) ?? DEFAULT;
const report = GpuCheck.parse(JSON.parse(readFileSync(file, 'utf8')));
const body = gpuCheckMarkdown(report);
console.log(body);
if (args.includes('--write-readme')) {
  writeReadmeBlocks([{ name: 'gpu-check', command: 'bash benchmarks/gpu/run.sh measure (on a GPU machine), then npm run report:gpu -- --write-readme', body }]);
  console.log('README.md: gpu-check block rewritten');
}
