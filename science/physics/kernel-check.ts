// Does a serving kernel exist on this GPU for this module's format, and does the module's TP
// shard have the shape that kernel needs? Unquantized (16-bit) modules always run as bf16 GEMMs
// whatever the recipe's activation format; quantized modules multiply in the recipe's format.
import type { ActivationFormat, HardwareProfile, KernelFormat } from '../../schema/hardware.js';
import type { QuantSpec } from '../../schema/recipe.js';
import type { Shard } from './sharding.js';

export type KernelVerdict =
  | { ok: true; kernel: string }
  | { ok: false; code: 'kernel-unsupported' | 'shard-shape'; reason: string; detail: Record<string, string | number | boolean | null> };

/**
 * Block size of the seeded Hadamard rotation quantization/hadamard.ts applies to a layer's input
 * dimension: the largest power of two dividing it (1536 → three 512-blocks).
 */
export function rotationBlockSize(inFeatures: number, maxBlock = Number.POSITIVE_INFINITY): number {
  return Math.min(inFeatures & -inFeatures, maxBlock);
}

export function activationOf(spec: QuantSpec, recipeActivations: ActivationFormat): ActivationFormat {
  return spec.bits === 16 ? 'bf16' : recipeActivations;
}

/** e.g. "int W4A16 g128 asym", "fp8 W8A8 channel with fp8 activations". */
export function formatLabel(spec: QuantSpec, act: ActivationFormat): string {
  if (spec.bits === 16) return 'bf16';
  const a = act === 'bf16' ? 16 : 8;
  const g = spec.groupSize === 'channel' ? 'channel' : `g${spec.groupSize}`;
  const sym = spec.format === 'fp8' ? '' : spec.symmetric ? ' sym' : ' asym';
  return `${spec.format} W${spec.bits}A${a} ${g}${sym}${act === 'bf16' ? '' : ` with ${act} activations`}`;
}

function smLabel(hw: HardwareProfile): string {
  return `SM ${Math.floor(hw.sm / 10)}.${hw.sm % 10}`;
}

function servesFormat(k: KernelFormat, spec: QuantSpec, act: ActivationFormat): boolean {
  if (spec.bits === 16) return k.weight === 'bf16';
  if (k.weight !== spec.format || !(k.bits as number[]).includes(spec.bits) || k.activations !== act) return false;
  if (!k.groupSizes.includes(spec.groupSize)) return false;
  return spec.format === 'fp8' || spec.symmetric || k.zeroPoints;
}

/** The unmet shape constraints of a kernel on a shard; empty when the shard fits. */
function shapeFailures(k: KernelFormat, spec: QuantSpec, shard: Shard): string[] {
  const fails: string[] = [];
  if (shard.outFeatures % k.tileN !== 0) fails.push(`N ${shard.outFeatures} % ${k.tileN}`);
  if (shard.inFeatures % k.tileK !== 0) fails.push(`K ${shard.inFeatures} % ${k.tileK}`);
  if (spec.bits !== 16 && typeof spec.groupSize === 'number' && shard.inFeatures % spec.groupSize !== 0) {
    fails.push(`K ${shard.inFeatures} % group ${spec.groupSize}`);
  }
  return fails;
}

/**
 * `inFeatures` is the unsharded input width: the rotation was applied to it at quantization time,
 * and serving must rotate each shard's activations locally, so no rotation block may straddle
 * two TP shards.
 */
export function checkKernel(hw: HardwareProfile, spec: QuantSpec, recipeActivations: ActivationFormat, shard: Shard, inFeatures: number): KernelVerdict {
  const act = activationOf(spec, recipeActivations);
  const label = formatLabel(spec, act);
  const base = { format: label, bits: spec.bits, groupSize: String(spec.groupSize), activations: act, shardN: shard.outFeatures, shardK: shard.inFeatures };
  const candidates = hw.kernels.filter((k) => servesFormat(k, spec, act));
  if (candidates.length === 0) {
    const why = act === 'fp8' && hw.peakFlops.fp8 === null ? ' (no FP8 tensor cores)' : '';
    return { ok: false, code: 'kernel-unsupported', reason: `no ${label} kernel on ${hw.id} (${smLabel(hw)})${why}`, detail: { ...base, kernel: null } };
  }
  const kernel = candidates.find((k) => shapeFailures(k, spec, shard).length === 0);
  if (!kernel) {
    const first = candidates[0];
    const fails = shapeFailures(first, spec, shard);
    return {
      ok: false,
      code: 'shard-shape',
      reason: `shard N=${shard.outFeatures} K=${shard.inFeatures} breaks ${first.id} (${fails.join(', ')} ≠ 0)`,
      detail: { ...base, kernel: first.id, tileN: first.tileN, tileK: first.tileK, failed: fails.join('; ') },
    };
  }
  if (spec.bits !== 16 && spec.outliers) {
    if (!hw.sparseOutliers || act !== 'bf16') {
      return { ok: false, code: 'kernel-unsupported', reason: `no sparse fp16 outlier kernel for ${label} on ${hw.id}`, detail: { ...base, kernel: kernel.id, outliers: spec.outliers.fraction } };
    }
  }
  if (spec.bits !== 16 && spec.rotation) {
    if (!hw.onlineHadamard) {
      return { ok: false, code: 'kernel-unsupported', reason: `no online Hadamard kernel on ${hw.id}`, detail: { ...base, kernel: kernel.id, rotation: 'hadamard' } };
    }
    const block = rotationBlockSize(inFeatures, spec.rotation.blockSize);
    if (shard.inFeatures % block !== 0) {
      return {
        ok: false,
        code: 'shard-shape',
        reason: `Hadamard blocks of ${block} (of K ${inFeatures}) straddle TP shards of K ${shard.inFeatures}: activations cannot be rotated per GPU`,
        detail: { ...base, kernel: kernel.id, rotation: 'hadamard', rotationBlock: block },
      };
    }
  }
  return { ok: true, kernel: kernel.id };
}
