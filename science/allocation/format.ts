// The human-readable answer of `evoquant allocate`: what each group got, its predicted loss and bytes.
import { GB, type Allocation } from './allocate.js';
import type { AllocationProblem } from './problem.js';

function span(layers: readonly number[]): string {
  if (layers.length === 0) return '—';
  return layers.length === 1 ? `${layers[0]}` : `${layers[0]}–${layers[layers.length - 1]}`;
}

export function formatAllocation(problem: AllocationProblem, a: Allocation, out: string | null): string[] {
  const t = problem.target;
  const lines = [
    `allocation for ${t.model} on ${t.hardware} ×${t.gpus} (TP${t.tensorParallel}, ${t.stack}), budget ${(a.budgetBytes / GB).toFixed(2)} GB per GPU`,
    `  ${(a.bytesPerGpu / GB).toFixed(3)} GB per GPU (compile: weights ${(a.report.perGpu.weightBytes / GB).toFixed(3)}, KV ${(a.report.perGpu.kvBytes / GB).toFixed(3)}, overhead ${(a.report.perGpu.overheadBytes / GB).toFixed(3)}), admitted with no violation`,
    `  predicted KL ${a.predictedLoss.toExponential(3)} bits/byte (sum of the proxy's per-block KLs; ${problem.proxyLayers} proxy layers mapped by relative depth)`,
    '  group        proxy layer  target layers  bits  predicted KL  GB/GPU',
    ...a.choices.map(
      (c) =>
        `  ${c.kind.padEnd(12)} ${String(c.proxyLayer ?? '—').padEnd(12)} ${span(c.targetLayers).padEnd(14)} ${String(c.bits === 16 ? 'bf16' : c.bits).padEnd(5)} ${c.cost.toExponential(2).padEnd(13)} ${(c.bytesPerGpu / GB).toFixed(3)}`,
    ),
    `  kernels: ${a.report.kernels.map((k) => `${k.role} ${k.kernel} ×${k.modules}`).join(', ')}`,
  ];
  const skipped = [...new Set(problem.unservable.map((u) => `${u.kind} ${u.bits}-bit`))];
  if (skipped.length > 0) lines.push(`  not servable on ${t.stack}, so not offered: ${skipped.join(', ')}`);
  if (out) lines.push(`  recipe written to ${out}`);
  return lines;
}
