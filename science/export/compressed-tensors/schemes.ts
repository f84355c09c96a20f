// config_groups: one compressed-tensors scheme per distinct weight spec, each targeting its modules
// with anchored `re:` regexes (compressed_tensors/utils/match.py matches `re:` targets with
// re.match against module names; the `$` anchors the end). Layers sharing a pattern are
// collapsed into one alternation, and a layer whose experts all share the scheme uses `\d+`.
import type { QuantSpec } from '../../../schema/recipe.js';

export interface SchemeModule {
  /** Mixtral module name, e.g. model.layers.0.block_sparse_moe.experts.3.w1 */
  module: string;
  spec: QuantSpec;
}

/** The compression format of one scheme: int grids pack into int32, fp8 stays one e4m3 byte per weight. */
export function schemeFormat(spec: QuantSpec): 'pack-quantized' | 'float-quantized' {
  return spec.format === 'fp8' ? 'float-quantized' : 'pack-quantized';
}

/** The checkpoint-level format: the one every scheme uses, else mixed-precision (each group names its own). */
export function formatOf(specs: readonly QuantSpec[]): string {
  const formats = new Set(specs.map(schemeFormat));
  return formats.size === 1 ? [...formats][0] : 'mixed-precision';
}

/** compressed-tensors QuantizationArgs of a weight spec. */
export function weightArgs(spec: QuantSpec): Record<string, unknown> {
  const channel = spec.groupSize === 'channel';
  if (spec.format === 'fp8') return { num_bits: 8, type: 'float', symmetric: true, strategy: 'channel', group_size: null, dynamic: false };
  return {
    num_bits: spec.bits,
    type: 'int',
    symmetric: spec.symmetric,
    strategy: channel ? 'channel' : 'group',
    group_size: channel ? null : spec.groupSize,
    dynamic: false,
    // GPTQ with act-order keeps static groups in natural column order (science/quantization/gptq.ts),
    // so no g_idx exists and the codes are read in order.
    actorder: null,
  };
}

const schemeKey = (spec: QuantSpec): string => JSON.stringify(weightArgs(spec));
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const LAYERED = /^model\.layers\.(\d+)\.(.+)$/;
const EXPERT = /^block_sparse_moe\.experts\.(\d+)\.(w[123])$/;

/** Anchored regex targets covering exactly the given module names. */
export function regexTargets(moduleNames: readonly string[], numExperts: number): string[] {
  const plain: string[] = [];
  // suffix template → layer → expert ids
  const experts = new Map<string, Map<number, Set<number>>>();
  const layered = new Map<string, Set<number>>();
  for (const name of moduleNames) {
    const m = LAYERED.exec(name);
    if (!m) {
      plain.push(`re:^${escape(name)}$`);
      continue;
    }
    const layer = Number(m[1]);
    const e = EXPERT.exec(m[2]);
    if (e) {
      const byLayer = experts.get(e[2]) ?? new Map<number, Set<number>>();
      const ids = byLayer.get(layer) ?? new Set<number>();
      ids.add(Number(e[1]));
      byLayer.set(layer, ids);
      experts.set(e[2], byLayer);
    } else {
      const layers = layered.get(m[2]) ?? new Set<number>();
      layers.add(layer);
      layered.set(m[2], layers);
    }
  }
  const alt = (xs: Iterable<number>): string => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted.length === 1 ? String(sorted[0]) : `(?:${sorted.join('|')})`;
  };
  const targets = [...plain];
  for (const [suffix, layers] of [...layered.entries()].sort()) targets.push(`re:^model\\.layers\\.${alt(layers)}\\.${escape(suffix)}$`);
  for (const [proj, byLayer] of [...experts.entries()].sort()) {
    // Layers with the same expert set share one regex.
    const bySet = new Map<string, number[]>();
    for (const [layer, ids] of byLayer) {
      const key = ids.size === numExperts ? '\\d+' : alt(ids);
      bySet.set(key, [...(bySet.get(key) ?? []), layer]);
    }
    for (const [ids, layers] of [...bySet.entries()].sort()) {
      targets.push(`re:^model\\.layers\\.${alt(layers)}\\.block_sparse_moe\\.experts\\.${ids}\\.${proj}$`);
    }
  }
  return targets;
}

/** config_groups: group_0, group_1, … in the order their schemes first appear. */
export function configGroups(modules: readonly SchemeModule[], numExperts: number): Record<string, unknown> {
  const bySpec = new Map<string, { spec: QuantSpec; names: string[] }>();
  for (const m of modules) {
    const key = schemeKey(m.spec);
    const entry = bySpec.get(key) ?? { spec: m.spec, names: [] };
    entry.names.push(m.module);
    bySpec.set(key, entry);
  }
  const groups: Record<string, unknown> = {};
  [...bySpec.values()].forEach(({ spec, names }, i) => {
    groups[`group_${i}`] = {
      targets: regexTargets(names, numExperts),
      weights: weightArgs(spec),
      input_activations: null,
      output_activations: null,
      format: schemeFormat(spec),
    };
  });
  return groups;
}
