// Whether each executable innovation's recipe can be served, per target and serving stack, as
// compile judges it: servable, or not with the ids of the stack rules (and GPU limits) it breaks.
// The table is total over (executable innovation × target × stack) by construction.
import { fileURLToPath } from 'node:url';
import { SERVING_STACKS, type ServingStackId } from '../../../schema/serving-stack.js';
import type { Innovation } from '../../../schema/innovation.js';
import { compileTarget, type CompileTargetInput } from '../../../science/physics/compile.js';
import { innovationRecipe } from './recipe.js';

export interface ServabilityTarget {
  id: string;
  label: string;
  target: Omit<CompileTargetInput, 'stack'>;
}

const PROXY_DIR = fileURLToPath(new URL('../../../artifacts/proxy', import.meta.url));

/** The proxy on one A100; the headline deployment (Qwen3-235B-A22B on 2×A100-80GB, TP2), its hard regime on one A100-80GB, and Llama-3.1-70B at 128k. */
export const SERVABILITY_TARGETS: readonly ServabilityTarget[] = [
  { id: 'proxy-a100', label: 'proxy, 1×A100-80GB', target: { model: PROXY_DIR, hardware: 'a100-80gb', gpus: 1, tensorParallel: 1 } },
  { id: 'qwen3-235b-1xa100', label: 'Qwen3-235B-A22B, 1×A100-80GB', target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 1, tensorParallel: 1 } },
  { id: 'qwen3-235b-2xa100', label: 'Qwen3-235B-A22B, 2×A100-80GB TP2', target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2 } },
  // The dense long-context target (issue 10), where the KV cache decides what fits.
  { id: 'llama-3.1-70b-128k-2xa100', label: 'Llama-3.1-70B at 128k, 2×A100-80GB TP2', target: { model: 'llama-3.1-70b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2, contextLength: 131_072 } },
];

export interface ServabilityVerdict {
  innovation: string;
  target: string;
  stack: ServingStackId;
  servable: boolean;
  /** Stack rule ids broken (not-servable), GPU limits (`hardware.kernel-unsupported`, `hardware.shard-shape`) and `model.too-few-experts`, sorted. */
  rules: string[];
  /** Whether the recipe fits the target's memory (a separate question from servability). */
  fits: boolean;
}

/** compile's verdict for one innovation on one target and stack. */
export function servabilityOf(innovation: Innovation, target: ServabilityTarget, stack: ServingStackId): ServabilityVerdict {
  const recipe = innovationRecipe(innovation);
  if (recipe === null) throw new Error(`innovation ${innovation.id} has no genes to compile`);
  const report = compileTarget({ ...target.target, stack }, recipe);
  const rules = new Set<string>();
  for (const v of report.violations) {
    if (v.code === 'not-servable') rules.add(String(v.detail.rule));
    else if (v.code === 'kernel-unsupported' || v.code === 'shard-shape') rules.add(`hardware.${v.code}`);
    // No stack runs a router that picks more experts than a pruned or merged layer keeps.
    else if (v.code === 'too-few-experts') rules.add(`model.${v.code}`);
  }
  return { innovation: innovation.id, target: target.id, stack, servable: rules.size === 0, rules: [...rules].sort(), fits: report.fits };
}

/** Every executable innovation × target × stack. */
export function servabilityTable(innovations: readonly Innovation[], targets: readonly ServabilityTarget[] = SERVABILITY_TARGETS): ServabilityVerdict[] {
  const rows: ServabilityVerdict[] = [];
  for (const n of innovations) {
    if (n.genes === null) continue;
    for (const t of targets) for (const stack of SERVING_STACKS) rows.push(servabilityOf(n, t, stack));
  }
  return rows;
}
