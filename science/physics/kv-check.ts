// Can the target's serving stack cache K and V as the recipe's KV policy says? Every layer's resolved
// policy is matched against the stack's 'kv-cache' rule: each of K and V must be one of the stack's
// storages exactly (format, and for integers the axis and group size), and every other gene the
// policy uses must be a feature the stack has. A gene that changes nothing (a window or a pre-RoPE key
// position over an unquantized cache) is not held against it.
import { isUnquantizedKv, kvElementBits, KvPolicy, resolveKvLayer, type KvLayerPolicy, type KvTensorPolicy } from '../../schema/kv-policy.js';
import { kvTensorLabel } from './kv-cache.js';
import type { KvCacheFeature, KvCacheRule, KvStorage, ServingStackTable } from '../../schema/serving-stack.js';

/** The storage of the rule that holds a K or V tensor policy exactly, if any. */
export function storageOf(rule: KvCacheRule, t: KvTensorPolicy): KvStorage | undefined {
  return rule.storages.find((s) => {
    if (s.format !== t.format) return false;
    if (!('axis' in t)) return true;
    return s.axis === t.axis && (s.groupSizes as number[] | undefined)?.includes(t.groupSize) === true;
  });
}

const sameTensor = (a: KvTensorPolicy, b: KvTensorPolicy): boolean => kvTensorLabel(a) === kvTensorLabel(b);

/**
 * Each layer's resolved policy (a policy without bands resolves to one). Without a model (null: a
 * recipe is a policy over relative depth), one per depth region its bands' bounds cut [0, 1) into.
 */
export function resolvedLayers(policy: KvPolicy, numLayers: number | null): KvLayerPolicy[] {
  if (policy.layers.length === 0) return [resolveKvLayer(policy, 0, 1)];
  if (numLayers !== null) return Array.from({ length: numLayers }, (_, i) => resolveKvLayer(policy, i, numLayers));
  const starts = [...new Set([0, ...policy.layers.flatMap((b) => [b.from, b.to])])].filter((d) => d < 1).sort((a, b) => a - b);
  return starts.map((d) => resolveKvLayer(policy, d, 1));
}

/** What of a policy the rule refuses, one reason per gene (empty: the stack caches it). */
export function kvPolicyFailures(rule: KvCacheRule, policy: KvPolicy, numLayers: number | null): string[] {
  const has = (f: KvCacheFeature): boolean => rule.features.includes(f);
  const reasons = new Set<string>();
  const layers = resolvedLayers(policy, numLayers);
  const quantized = layers.filter((l) => !isUnquantizedKv(l));
  for (const l of quantized) {
    for (const [what, t] of [['keys', l.keys], ['values', l.values]] as const) {
      if (!storageOf(rule, t)) reasons.add(`no ${kvTensorLabel(t)} ${what} cache (stores ${rule.storages.map((s) => s.name).join(', ')})`);
    }
    if (!sameTensor(l.keys, l.values) && !has('mixed-kv')) reasons.add(`keys ${kvTensorLabel(l.keys)} and values ${kvTensorLabel(l.values)} differ: one cache dtype for both`);
    if (l.recentWindow > 0 && !has('recent-window')) reasons.add(`no full-precision recent window (${l.recentWindow} tokens)`);
    if (l.sinkTokens > 0 && !has('sink-tokens')) reasons.add(`no full-precision sink tokens (${l.sinkTokens})`);
    if (l.keys.format !== 'bf16' && l.keyPosition === 'pre-rope' && !has('pre-rope-keys')) reasons.add('keys are cached after RoPE: no pre-RoPE key quantization');
    if (l.keys.format !== 'bf16' && l.keyRotation === 'hadamard' && !has('hadamard-keys')) reasons.add('no Hadamard rotation of cached keys');
  }
  const formats = new Set(quantized.map((l) => `${kvTensorLabel(l.keys)}|${kvTensorLabel(l.values)}`));
  if (formats.size > 1 && !has('layer-bands')) reasons.add(`layers cache in ${formats.size} different formats: one cache dtype per model`);
  if (quantized.length > 0 && quantized.length < layers.length && !has('bf16-layers') && !has('layer-bands')) reasons.add('some layers keep a bf16 cache: no per-layer skip');
  return [...reasons];
}

/** The stack's KV rule, if it has one (a stack without rules, reference, caches every policy). */
export function kvRuleOf(table: ServingStackTable): KvCacheRule | undefined {
  const rule = table.rules.find((r) => r.kind === 'kv-cache');
  return rule?.kind === 'kv-cache' ? rule : undefined;
}

/** The narrowest storage of the rule at least as wide as `t` (the widest when none is), as a tensor policy. */
function widerServed(rule: KvCacheRule, t: KvTensorPolicy): KvTensorPolicy {
  const bitsOf = kvElementBits;
  const options: KvTensorPolicy[] = rule.storages.flatMap((s): KvTensorPolicy[] => {
    if (s.format === 'int8' || s.format === 'int4' || s.format === 'int2') return (s.groupSizes ?? []).map((g) => ({ format: s.format as 'int8', axis: s.axis ?? 'token', groupSize: g }));
    return [{ format: s.format } as KvTensorPolicy];
  });
  const wider = options.filter((o) => bitsOf(o) >= bitsOf(t)).sort((a, b) => bitsOf(a) - bitsOf(b));
  return wider[0] ?? options.sort((a, b) => bitsOf(b) - bitsOf(a))[0]!;
}

/**
 * The nearest policy the stack caches: each unserved K or V takes the narrowest storage at least as
 * wide, genes the stack lacks are dropped (bands collapse to the base), K and V share the wider one
 * where the stack has one dtype for both.
 */
export function servableKvPolicy(rule: KvCacheRule, policy: KvPolicy, numLayers: number | null): KvPolicy {
  const bitsOf = kvElementBits;
  if (kvPolicyFailures(rule, policy, numLayers).length === 0) return policy;
  const has = (f: KvCacheFeature): boolean => rule.features.includes(f);
  // Bands that only keep layers in bf16 stay where the stack skips layers (vLLM's skip layers).
  const bf16Band = (b: KvPolicy['layers'][number]): boolean => b.override.keys?.format === 'bf16' && b.override.values?.format === 'bf16';
  const out: KvPolicy = { ...policy, layers: has('layer-bands') ? policy.layers : has('bf16-layers') ? policy.layers.filter(bf16Band) : [] };
  if (!storageOf(rule, out.keys)) out.keys = widerServed(rule, out.keys);
  if (!storageOf(rule, out.values)) out.values = widerServed(rule, out.values);
  if (!sameTensor(out.keys, out.values) && !has('mixed-kv')) {
    const wide = bitsOf(out.keys) >= bitsOf(out.values) ? out.keys : out.values;
    out.keys = wide;
    out.values = wide;
  }
  if (!has('recent-window')) out.recentWindow = 0;
  if (!has('sink-tokens')) out.sinkTokens = 0;
  if (!has('pre-rope-keys')) out.keyPosition = 'post-rope';
  if (!has('hadamard-keys')) out.keyRotation = 'none';
  return KvPolicy.parse(out);
}
