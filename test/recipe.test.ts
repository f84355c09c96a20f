import test from 'ava';
import { BUILTIN_RECIPES, builtinRecipe } from '../science/recipes/builtin.js';
import { loadRecipe } from '../science/recipes/load.js';
import { InvalidRecipeError, parseRecipe, resolveSpec } from '../schema/recipe.js';
import { KvPolicy } from '../schema/kv-policy.js';
import { policyHash } from '../evolution/proposer/candidate-id.js';

test('every builtin named by the issue exists and parses', (t) => {
  for (const name of ['bf16', 'fp8-w8a8', 'fp8-w8a16', 'w8a16', 'w4a16-g128', 'w4a16-g128-rtn', 'w4a16-g128-gptq', 'w4a16-g128-awq', 'w3a16-g128', 'w2a16-g64']) {
    t.truthy(builtinRecipe(name), name);
  }
  const mixed = [...BUILTIN_RECIPES.values()].filter((r) => r.experts || r.depth.length > 0);
  t.true(mixed.length >= 2, 'at least two mixed-precision MoE recipes');
});

test('resolveSpec applies default, role, depth band and expert tier in that order', (t) => {
  const recipe = parseRecipe({
    name: 'layered',
    default: { bits: 4, groupSize: 128 },
    roles: { attn_q: { bits: 8 }, router: { bits: 16 } },
    depth: [{ from: 0, to: 0.25, override: { bits: 3 }, roles: ['expert_down'] }],
    experts: { rankBy: 'routing-frequency', tiers: [{ below: 0.25, override: { bits: 8 } }, { below: 1, override: { bits: 2, groupSize: 64 } }] },
  });
  const site = (role: Parameters<typeof resolveSpec>[1]['role'], layer: number | null, q: number | null) => resolveSpec(recipe, { role, layer, numLayers: 4, expertQuantile: q });
  t.is(site('attn_q', 2, null).bits, 8);
  t.is(site('attn_k', 2, null).bits, 4);
  t.is(site('router', 0, null).bits, 16);
  t.is(site('expert_gate', 1, 0).bits, 8, 'hot expert tier');
  t.deepEqual([site('expert_up', 1, 0.5).bits, site('expert_up', 1, 0.5).groupSize], [2, 64], 'cold expert tier');
  t.is(site('dense_mlp', 0, null).bits, 4);
});

test('expertLayers gives every expert of a layer (gate, up, down) its layer\'s tier; without a ranking, layers rank by depth', (t) => {
  const recipe = parseRecipe({
    name: 'layers',
    default: { bits: 3, groupSize: 128 },
    roles: { attn_q: { bits: 8 } },
    depth: [{ from: 0, to: 0.25, override: { groupSize: 64 }, roles: ['expert_down'] }],
    expertLayers: { rankBy: 'sensitivity', tiers: [{ below: 0.25, override: { bits: 4 } }] },
  });
  const site = (role: Parameters<typeof resolveSpec>[1]['role'], layer: number, layerQuantile?: number, expertQuantile = 0.9) =>
    resolveSpec(recipe, { role, layer, numLayers: 4, expertQuantile, ...(layerQuantile === undefined ? {} : { layerQuantile }) });
  // By depth: layer 0 is in the top quarter, whatever the expert's own rank.
  for (const role of ['expert_gate', 'expert_up', 'expert_down'] as const) {
    t.is(site(role, 0).bits, 4, role);
    t.is(site(role, 0, undefined, 0).bits, 4, role);
    t.is(site(role, 2).bits, 3, role);
  }
  // The depth band still applies (after the role, before the layer tier).
  t.is(site('expert_down', 0).groupSize, 64);
  // A measured ranking moves the tier to the ranked layer; attention is not an expert role.
  t.is(site('expert_up', 2, 0).bits, 4);
  t.is(site('expert_up', 0, 0.5).bits, 3);
  t.is(site('attn_q', 0, 0).bits, 8);
  t.is(site('attn_k', 0, 0).bits, 3);
  const bad = t.throws(() => parseRecipe({ name: 'x', default: { bits: 4 }, expertLayers: { rankBy: 'sensitivity', tiers: [{ below: 0.5, override: {} }, { below: 0.5, override: {} }] } }), { instanceOf: InvalidRecipeError });
  t.regex(bad!.message, /^recipe\.expertLayers\.tiers\.1\.below/);
});

test('a recipe that breaks a rule names the field at fault', (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ name: 'x', default: { bits: 5 } }, /^recipe\.default\.bits: bits must be one of 2, 3, 4, 8 or 16$/],
    [{ name: 'x', default: { bits: 4, groupSize: 100 } }, /^recipe\.default\.groupSize/],
    [{ name: 'x', default: { bits: 4, format: 'fp8' } }, /^recipe\.default\.bits: fp8 format requires bits 8$/],
    [{ name: 'x', default: { bits: 4 }, roles: { attn_x: { bits: 8 } } }, /^recipe\.roles/],
    [{ name: 'x', default: { bits: 4 }, experts: { rankBy: 'routing-frequency', tiers: [{ below: 0.5, override: {} }, { below: 0.25, override: {} }] } }, /^recipe\.experts\.tiers\.1\.below/],
    [{ default: { bits: 4 } }, /^recipe\.name/],
    [{ name: 'x', default: { bits: 4, method: { kind: 'gptq', damp: 2 } } }, /^recipe\.default\.method\.damp/],
  ];
  for (const [input, message] of bad) {
    const err = t.throws(() => parseRecipe(input), { instanceOf: InvalidRecipeError });
    t.regex(err!.message, message);
    t.false(err!.message.includes('\n'), 'one line');
  }
});

test('loadRecipe refuses unknown builtins and missing files in one line', (t) => {
  t.throws(() => loadRecipe('builtin:w5a16'), { instanceOf: InvalidRecipeError, message: /unknown builtin "w5a16"/ });
  t.throws(() => loadRecipe('/does/not/exist.json'), { instanceOf: InvalidRecipeError, message: /does not exist/ });
});

test('kvCache: legacy kvCacheBits 16/8/4 parse onto the policy physics charged; the bf16 policy is no gene and keeps the hash', (t) => {
  const base = { name: 'x', default: { bits: 4 } };
  const plain = parseRecipe(base);
  t.false('kvCache' in plain);
  t.false('kvCacheBits' in plain, 'the legacy field is never kept');
  // 16 and a spelled-out bf16 policy are the recipe without a KV gene: the same content hash.
  for (const same of [{ kvCacheBits: 16 }, { kvCache: {} }, { kvCache: { keys: { format: 'bf16' }, values: { format: 'bf16' }, recentWindow: 0, keyPosition: 'post-rope' } }]) {
    const r = parseRecipe({ ...base, ...same });
    t.deepEqual(r, plain);
    t.is(policyHash(r), policyHash(plain));
  }
  t.deepEqual(parseRecipe({ ...base, kvCacheBits: 8 }).kvCache, KvPolicy.parse({ keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' } }));
  t.deepEqual(parseRecipe({ ...base, kvCacheBits: 4 }).kvCache, KvPolicy.parse({ keys: { format: 'int4', axis: 'token', groupSize: 128 }, values: { format: 'int4', axis: 'token', groupSize: 128 } }));
  // A window over a bf16 cache is a gene (it changes what a stack is asked), so it is kept.
  t.is(parseRecipe({ ...base, kvCache: { recentWindow: 64 } }).kvCache?.recentWindow, 64);
  // Parsing is idempotent: a parsed recipe parses to itself.
  const kivi = parseRecipe({ ...base, kvCache: { keys: { format: 'int2', axis: 'channel', groupSize: 32 }, values: { format: 'int2', axis: 'token', groupSize: 32 }, recentWindow: 128 } });
  t.deepEqual(parseRecipe(kivi), kivi);
});

test('kvCache: bad input names the field in one line', (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ name: 'x', default: { bits: 4 }, kvCacheBits: 2 }, /^recipe\.kvCacheBits: kvCacheBits must be 16, 8 or 4$/],
    [{ name: 'x', default: { bits: 4 }, kvCacheBits: 8, kvCache: {} }, /^recipe\.kvCacheBits: give kvCache or the legacy kvCacheBits, not both$/],
    [{ name: 'x', default: { bits: 4 }, kvCache: { keys: { format: 'int3' } } }, /^recipe\.kvCache\.keys\.format/],
    [{ name: 'x', default: { bits: 4 }, kvCache: { keys: { format: 'int4', axis: 'token', groupSize: 48 } } }, /^recipe\.kvCache\.keys\.groupSize: groupSize must be one of 16, 32, 64, 128$/],
    [{ name: 'x', default: { bits: 4 }, kvCache: { recentWindow: -1 } }, /^recipe\.kvCache\.recentWindow/],
    [{ name: 'x', default: { bits: 4 }, kvCache: { sinks: 4 } }, /^recipe\.kvCache\.sinks: unknown field$/],
    [{ name: 'x', default: { bits: 4 }, kvCache: { layers: [{ from: 0.5, to: 0.2, override: {} }] } }, /^recipe\.kvCache\.layers\.0\.to: depth band needs to > from$/],
  ];
  for (const [input, message] of bad) {
    const err = t.throws(() => parseRecipe(input), { instanceOf: InvalidRecipeError });
    t.regex(err!.message, message);
    t.false(err!.message.includes('\n'), 'one line');
  }
});
