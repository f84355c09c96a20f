// What the torch executor's AWQ can serve: a compressed-tensors checkpoint has no per-input-channel
// scale tensor, so s folds into the op before the module (python/evoquant_torch/awq_layer.py, as
// science/export/compressed-tensors/awq-fold.ts for the proxy). A plan whose scales could not fold is
// refused here, before a process is spawned, with the UnsupportedRecipe the Python side raises.
import type { DescribeResult, TorchModuleSpec } from '../../schema/torch-executor.js';
import { UnsupportedRecipeError } from './errors.js';

const RULE_SHARED = 'vllm.awq.fold-shared-input';
const RULE_O_PROJ = 'export.compressed-tensors.awq-o-proj';

const isAwq = (s: TorchModuleSpec): boolean => s.bits !== 16 && s.format === 'int' && s.method.kind === 'awq';

/** gate/up projections read the layer's MLP input; down_proj (w2) reads its own hidden state. */
const readsMlpInput = (name: string): boolean => /\.(gate_proj|up_proj|w1|w3)$/.test(name);

/** The shared input a module reads (layer-qualified), or null when its input is its own. */
function sharedInputOf(m: DescribeResult['modules'][number]): string | null {
  if (m.layer === null) return null;
  switch (m.role) {
    case 'attn_q':
    case 'attn_k':
    case 'attn_v':
      return `${m.layer}:attention`;
    case 'expert_gate':
    case 'expert_up':
      return `${m.layer}:mlp`;
    case 'shared_expert':
    case 'dense_mlp':
      return readsMlpInput(m.name) ? `${m.layer}:mlp` : null;
    default:
      return null;
  }
}

/**
 * Refuses (UnsupportedRecipe) AWQ on o_proj (its s would fold into v_proj rows shared by several query
 * heads) and on an input whose quantized readers do not all take one shared s (scales shared-input,
 * one scaleGrid). lm_head reads the final norm alone: its s folds there.
 */
export function checkAwqFold(described: DescribeResult, modules: Readonly<Record<string, TorchModuleSpec>>): void {
  const groups = new Map<string, string[]>();
  for (const m of described.modules) {
    const spec = modules[m.name];
    if (!spec) continue;
    if (m.role === 'attn_o' && isAwq(spec)) throw new UnsupportedRecipeError(`${m.name}: o_proj AWQ scales would have to fold into v_proj rows shared by several query heads (rule ${RULE_O_PROJ})`);
    const input = sharedInputOf(m);
    if (input !== null) groups.set(input, [...(groups.get(input) ?? []), m.name]);
  }
  for (const readers of groups.values()) {
    const awq = readers.filter((n) => isAwq(modules[n]));
    if (awq.length === 0) continue;
    const first = modules[awq[0]].method;
    const grid = first.kind === 'awq' ? first.scaleGrid : 0;
    for (const n of readers) {
      const s = modules[n];
      if (s.bits === 16) continue;
      if (!(s.method.kind === 'awq' && isAwq(s) && s.method.scales === 'shared-input' && s.method.scaleGrid === grid)) {
        throw new UnsupportedRecipeError(`${n}: the modules reading one input (${awq[0]} ...) must all take one AWQ scale (method awq with scales shared-input and one scaleGrid) so that a norm can absorb it (rule ${RULE_SHARED})`);
      }
    }
  }
}
