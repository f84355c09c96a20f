// The serving flags a recipe's KV policy becomes on a real stack: the stack's own cache type names
// for K and V (llama.cpp --cache-type-k/-v, vLLM --kv-cache-dtype), or a refusal naming what of the
// policy the stack's 'kv-cache' rule does not serve.
import type { KvPolicy } from '../../schema/kv-policy.js';
import type { ServingStackId } from '../../schema/serving-stack.js';
import { kvPolicyFailures, kvRuleOf, storageOf } from '../physics/kv-check.js';
import { getServingStack } from '../serving-stacks/index.js';
import { ExportRefusedError } from './errors.js';

export interface KvCacheTypes {
  keys: string;
  values: string;
}

/** The stack's cache types for K and V, null for a bf16 cache; throws ExportRefusedError when the stack cannot serve the policy. */
export function kvCacheTypes(format: string, stack: ServingStackId, policy: KvPolicy | undefined): KvCacheTypes | null {
  if (!policy) return null;
  const rule = kvRuleOf(getServingStack(stack));
  if (!rule) return null;
  // The export writes one flag for the whole model: per-layer bands have none.
  const failures = [...kvPolicyFailures(rule, policy, null), ...(policy.layers.length > 0 ? ['per-layer KV bands have no export flag'] : [])];
  if (failures.length > 0) throw new ExportRefusedError(`${format}: kv cache: ${failures[0]} [${rule.id}; ${rule.provenance.source}]`);
  return { keys: storageOf(rule, policy.keys)!.name, values: storageOf(rule, policy.values)!.name };
}
