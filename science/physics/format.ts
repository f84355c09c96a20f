// A compile report for people: one line per field, label padded, decimal GB (1e9 B).
import type { CompileReport } from '../../schema/compile-report.js';
import { MODULE_ROLES } from '../../schema/recipe.js';

const LABEL_WIDTH = 18;

export function formatBytes(n: number): string {
  if (Math.abs(n) >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (Math.abs(n) >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

function line(label: string, value: string): string {
  return `${label.padEnd(LABEL_WIDTH)}${value}`;
}

/** The report as lines for a CLI; violations and notes get one line each. */
export function formatReport(r: CompileReport): string[] {
  const d = r.deployment;
  const roles = (rec: Record<string, number>, fmt: (n: number) => string): string =>
    MODULE_ROLES.filter((role) => rec[role] > 0)
      .map((role) => `${role} ${fmt(rec[role])}`)
      .join(', ');
  const out = [
    line('model', `${r.model.name} (${r.model.family}, ${r.model.numLayers} layers${r.model.numExperts ? `, ${r.model.numExperts} experts` : ''})`),
    line('hardware', `${r.hardware.id} ×${d.gpus} (TP${d.tensorParallel} × PP${r.pipelineStages}), ${r.hardware.name}`),
    line('workload', `context ${d.contextLength}, batch ${d.batch}`),
    line('recipe', r.recipe),
    line('parameters', `${formatCount(r.parameters.total)} (${roles(r.parameters.byRole, formatCount)}, norms ${formatCount(r.parameters.norms)})`),
    line('weights', `${formatBytes(r.weightBytes.total)} (bf16 ${formatBytes(r.weightBytes.bf16Total)})`),
    line('weights by role', roles(r.weightBytes.byRole, formatBytes)),
    line(
      'weight storage',
      Object.entries(r.weightBytes.breakdown)
        .map(([k, v]) => `${k} ${formatBytes(v)}`)
        .join(', '),
    ),
    line('kv cache', `${formatBytes(r.kvCache.totalBytes)} at context ${d.contextLength} × batch ${d.batch} (${(r.kvCache.bytesPerToken / 1024).toFixed(1)} KiB/token, ${r.kvCache.policy})`),
    // Per-layer bands, when the policy has more than one.
    ...(r.kvCache.bands.length > 1 ? [line('kv bands', r.kvCache.bands.map((b) => `layers ${b.firstLayer}–${b.endLayer - 1} ${b.policy} ${(b.bytesPerToken / 1024).toFixed(1)} KiB/token`).join('; '))] : []),
    line('overhead/GPU', `${formatBytes(r.overhead.bytesPerGpu)} (${r.overhead.components.map((c) => `${c.name} ${formatBytes(c.bytesPerGpu)}`).join(', ')})`),
    line(
      'per GPU',
      `${formatBytes(r.perGpu.totalBytes)} of ${formatBytes(r.perGpu.capacityBytes)} (weights ${formatBytes(r.perGpu.weightBytes)}, KV ${formatBytes(r.perGpu.kvBytes)}, overhead ${formatBytes(r.perGpu.overheadBytes)})`,
    ),
    line('fits', r.fits ? `yes (${formatBytes(r.perGpu.headroomBytes)} free)` : `no (${formatBytes(-r.perGpu.headroomBytes)} over)`),
    line('reduction', `weights ${pct(r.reduction.weights)}, total ${pct(r.reduction.total)} vs bf16`),
    line(
      'decode',
      `${r.decode.tokensPerSecond.toFixed(1)} tok/s roofline (${r.decode.boundBy}-bound; step ${(r.decode.stepSeconds * 1e3).toFixed(2)} ms = memory ${(r.decode.memorySeconds * 1e3).toFixed(2)} / compute ${(r.decode.computeSeconds * 1e3).toFixed(2)} + comm ${(r.decode.commSeconds * 1e3).toFixed(2)} ms)`,
    ),
    line('kernels', r.kernels.map((k) => `${k.role}→${k.kernel}`).join(', ') || '(none)'),
  ];
  // The reference stack runs every design: its reports stay as they were before stacks existed.
  if (!r.stack.researchOnly) out.splice(4, 0, line('stack', `${r.stack.id} ${r.stack.version} (${r.stack.checkpoint} checkpoint)`));
  for (const v of r.violations) out.push(line('violation', `[${v.code}] ${v.message}`));
  for (const n of r.notes) out.push(line('note', n));
  return out;
}
