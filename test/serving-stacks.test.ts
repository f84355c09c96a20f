// Serving stacks as part of the compile target: the tables validate, every vLLM rule fires with its
// provenance on a recipe that breaks it, uniform recipes are servable with real kernels named, and
// vllm is the default stack, and the reference stack admits exactly what compile admitted before
// stacks existed.
import test from 'ava';
import { compileVerdict } from '../activities/compile-verdict.js';
import { compile, compileTarget, type CompileTargetInput } from '../science/physics/compile.js';
import { enumerateModules } from '../science/physics/modules.js';
import { sameSchemeViolations } from '../science/physics/serving-check.js';
import { getHardwareProfile } from '../science/hardware/profiles.js';
import { BUILTIN_RECIPES, builtinRecipe } from '../science/recipes/builtin.js';
import { SERVING_STACK_TABLES, getServingStack } from '../science/serving-stacks/index.js';
import { VLLM_0_33_0 } from '../science/serving-stacks/vllm-0.33.0.js';
import { CompileReport, type Violation } from '../schema/compile-report.js';
import { InvalidDeploymentError } from '../schema/deployment.js';
import { EvolutionConfig } from '../schema/evolution-config.js';
import { QuantSpec, Recipe, type RecipeInput } from '../schema/recipe.js';
import { SERVING_STACKS, ServingStackTable } from '../schema/serving-stack.js';
import { runCli } from './helpers/cli.js';
import { LLAMA3_8B } from './helpers/physics-configs.js';
import { normaliseModelConfig } from '../science/model-configs/normalise.js';

const QWEN235_A100_TP2: CompileTargetInput = { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2 };
const VLLM = { ...QWEN235_A100_TP2, stack: 'vllm' };
const REFERENCE = { ...QWEN235_A100_TP2, stack: 'reference' };

function builtin(name: string): Recipe {
  const r = builtinRecipe(name);
  if (!r) throw new Error(`no builtin ${name}`);
  return r;
}

/** Uniform int4 g128 GPTQ, small roles in bf16, plus whatever a test overrides. */
function w4(extra: Partial<RecipeInput> = {}): Recipe {
  const base = builtin('w4a16-g128-gptq');
  return Recipe.parse({ ...base, name: 'test', ...extra });
}

const notServable = (r: CompileReport): Violation[] => r.violations.filter((v) => v.code === 'not-servable');
const rulesOf = (r: CompileReport): string[] => [...new Set(notServable(r).map((v) => String(v.detail.rule)))].sort();

function firing(r: CompileReport, rule: string): Violation[] {
  return notServable(r).filter((v) => v.detail.rule === rule);
}

test('every shipped table validates, covers its stack, and gives each rule a source', (t) => {
  t.deepEqual([...SERVING_STACK_TABLES.keys()].sort(), [...SERVING_STACKS].sort());
  for (const table of SERVING_STACK_TABLES.values()) {
    t.notThrows(() => ServingStackTable.parse(table));
    for (const rule of table.rules) {
      t.true(rule.id.startsWith(`${table.stack}.`), rule.id);
      t.true(rule.provenance.source.length > 0 && rule.provenance.evidence.length > 0, rule.id);
      if (rule.kind === 'kernels') for (const k of rule.kernels) t.true(k.provenance.source.length > 0, k.id);
    }
  }
  t.is(getServingStack('vllm').version, '0.33.0');
  t.true(getServingStack('reference').researchOnly);
  t.false(getServingStack('vllm').researchOnly);
  t.deepEqual(getServingStack('reference').rules, []);
});

test('a malformed table is refused: duplicate ids, foreign prefixes, a module kind without kernels', (t) => {
  const dup = { ...VLLM_0_33_0, rules: [...VLLM_0_33_0.rules, VLLM_0_33_0.rules[0]] };
  t.regex(ServingStackTable.safeParse(dup).error?.issues[0].message ?? '', /duplicate rule id vllm\.moe\.one-scheme-per-layer/);
  const foreign = { ...VLLM_0_33_0, rules: VLLM_0_33_0.rules.map((r, i) => (i === 0 ? { ...r, id: 'llama.cpp.x' } : r)) };
  t.regex(ServingStackTable.safeParse(foreign).error?.issues[0].message ?? '', /must start with "vllm\."/);
  const noRouter = { ...VLLM_0_33_0, rules: VLLM_0_33_0.rules.filter((r) => r.id !== 'vllm.kernels.router') };
  t.regex(ServingStackTable.safeParse(noRouter).error?.issues[0].message ?? '', /one per module kind/);
  const noSource = { ...VLLM_0_33_0, rules: VLLM_0_33_0.rules.map((r) => ({ ...r, provenance: { source: '', evidence: 'x' } })) };
  t.false(ServingStackTable.safeParse(noSource).success);
});

test('uniform w4a16-g128 GPTQ on Qwen3-235B-A22B / 2×A100 TP2 is servable on vllm through Marlin', (t) => {
  const r = compileTarget(VLLM, builtin('w4a16-g128-gptq'));
  t.notThrows(() => CompileReport.parse(r));
  t.deepEqual(r.violations, []);
  t.deepEqual(r.stack, { id: 'vllm', version: '0.33.0', researchOnly: false, checkpoint: 'compressed-tensors' });
  const kernelOf = new Map(r.kernels.map((k) => [k.role, k.kernel]));
  for (const role of ['attn_q', 'attn_k', 'attn_v', 'attn_o'] as const) t.is(kernelOf.get(role), 'marlin');
  for (const role of ['expert_gate', 'expert_up', 'expert_down'] as const) t.is(kernelOf.get(role), 'marlin-moe');
  t.is(kernelOf.get('router'), 'vllm-router-bf16');
  // Per role, not per tensor: 12 032 experts of a role are one entry.
  t.is(r.kernels.find((k) => k.role === 'expert_down')?.modules, 94 * 128);
  // Uniform 3-bit experts with 4-bit attention: Humming serves the experts, Marlin the attention.
  const r3 = compileTarget(VLLM, w4({ roles: { ...builtin('w4a16-g128-gptq').roles, expert_gate: { bits: 3 }, expert_up: { bits: 3 }, expert_down: { bits: 3 } } }));
  t.deepEqual(notServable(r3), []);
  t.is(r3.kernels.find((k) => k.role === 'expert_up')?.kernel, 'humming-moe');
});

test('per-expert bit tiers inside a layer: vllm.moe.one-scheme-per-layer, citing compressed_tensors_moe.py', (t) => {
  const r = compileTarget(VLLM, builtin('research-moe-hot4-cold3'));
  t.deepEqual(rulesOf(r), ['vllm.moe.one-scheme-per-layer']);
  const [v] = firing(r, 'vllm.moe.one-scheme-per-layer');
  t.regex(v.message, /per-expert bit tiers inside a layer/);
  t.regex(v.message, /int3 g128 asym \+ int4 g128 asym in 94 layers/);
  t.is(v.detail.perExpertTiers, true);
  t.is(v.detail.version, '0.33.0');
  t.is(v.detail.stack, 'vllm');
  t.regex(String(v.detail.source), /compressed_tensors_moe\/compressed_tensors_moe\.py$/);
  t.is(v.detail.modules, 94 * 128 * 3);
  // gate/up/down of a layer's experts with different bits break the same rule, without tiers.
  const roles = builtin('w4a16-g128-gptq').roles;
  const mixedRoles = compileTarget(VLLM, w4({ roles: { ...roles, expert_down: { bits: 8, groupSize: 'channel' } } }));
  const [m] = firing(mixedRoles, 'vllm.moe.one-scheme-per-layer');
  t.is(m.detail.perExpertTiers, false);
  t.regex(m.message, /expert_down\/expert_gate\/expert_up with different schemes/);
});

test('q/k/v with different bits: vllm.fused-qkv.one-scheme, citing compressed_tensors/utils.py', (t) => {
  const roles = builtin('w4a16-g128-gptq').roles;
  const r = compileTarget(VLLM, w4({ roles: { ...roles, attn_v: { bits: 8, groupSize: 'channel' } } }));
  t.deepEqual(rulesOf(r), ['vllm.fused-qkv.one-scheme']);
  const [v] = firing(r, 'vllm.fused-qkv.one-scheme');
  t.regex(String(v.detail.source), /compressed_tensors\/utils\.py$/);
  t.is(v.detail.roles, 'attn_k,attn_q,attn_v');
  t.is(v.detail.layers, 94);
  // o_proj is not fused with q/k/v: it may differ.
  t.deepEqual(notServable(compileTarget(VLLM, w4({ roles: { ...roles, attn_o: { bits: 8, groupSize: 'channel' } } }))), []);
});

test('gate ≠ up of a dense MLP: vllm.fused-gate-up.one-scheme (roles cannot split them, so the checker is fed directly)', (t) => {
  const arch = normaliseModelConfig(LLAMA3_8B, 'llama3-8b');
  const modules = enumerateModules(arch);
  const int4 = QuantSpec.parse({ bits: 4 });
  const int8 = QuantSpec.parse({ bits: 8, groupSize: 'channel', symmetric: true });
  const vs = sameSchemeViolations(getServingStack('vllm'), modules, (m) => (m.projection === 'up' ? int8 : int4));
  t.deepEqual(vs.map((v) => v.detail.rule), ['vllm.fused-gate-up.one-scheme']);
  t.is(vs[0].detail.layers, arch.numLayers);
  t.regex(String(vs[0].detail.source), /compressed_tensors\/utils\.py$/);
  t.deepEqual(sameSchemeViolations(getServingStack('vllm'), modules, () => int4), []);
});

test('3-bit dense linear layers: vLLM serves them through Humming (Marlin takes 4/8 bits only), as the reference stack does', (t) => {
  const recipe = builtin('w3a16-g128-gptq');
  const r = compileTarget(VLLM, recipe);
  t.deepEqual(notServable(r), []);
  t.is(r.kernels.find((k) => k.role === 'attn_q')?.kernel, 'humming-linear');
  t.is(r.kernels.find((k) => k.role === 'expert_gate')?.kernel, 'humming-moe');
  const ref = compileTarget(REFERENCE, recipe);
  t.deepEqual(ref.violations, []);
  t.true(ref.kernels.some((k) => k.role === 'attn_q' && k.kernel === 'humming-int'));
  t.true(ref.stack.researchOnly);
});

test('Marlin reads zero points for int4 only: asymmetric int8 and group 256 fall through to Humming; group 32 is Marlin', (t) => {
  const gptq = builtin('w4a16-g128-gptq').default;
  const asym8 = compileTarget(VLLM, w4({ default: { ...gptq, bits: 8, groupSize: 'channel', symmetric: false } }));
  t.deepEqual(notServable(asym8), []);
  t.is(asym8.kernels.find((k) => k.role === 'attn_q')?.kernel, 'humming-linear');
  const sym8 = compileTarget(VLLM, w4({ default: { ...gptq, bits: 8, groupSize: 'channel', symmetric: true } }));
  t.is(sym8.kernels.find((k) => k.role === 'attn_q')?.kernel, 'marlin');
  const g256 = compileTarget(VLLM, w4({ default: { ...gptq, groupSize: 256 } }));
  t.deepEqual(notServable(g256), []);
  t.is(g256.kernels.find((k) => k.role === 'attn_q')?.kernel, 'humming-linear');
  const served = compileTarget(VLLM, w4({ default: { ...gptq, groupSize: 32 } }));
  t.deepEqual(served.violations, []);
  t.is(served.kernels.find((k) => k.role === 'attn_q')?.kernel, 'marlin');
  // A shard whose K is not a multiple of the group has no kernel at all, Humming included.
  const tp8 = compileTarget({ ...VLLM, gpus: 8, tensorParallel: 8 }, w4());
  t.true(tp8.violations.some((v) => v.code === 'shard-shape' || v.code === 'not-servable'));
});

test('asymmetric weights in a GPTQ checkpoint: vllm.checkpoint.gptq citing auto_gptq.py; symmetric int4 loads', (t) => {
  const gptq = { ...VLLM, checkpoint: 'gptq' };
  const r = compileTarget(gptq, builtin('w4a16-g128-gptq'));
  t.deepEqual(rulesOf(r), ['vllm.checkpoint.gptq']);
  const [v] = firing(r, 'vllm.checkpoint.gptq');
  t.regex(v.message, /gptq checkpoint stores 4\/8-bit int symmetric weights only, not int W4A16 g128 asym/);
  t.regex(String(v.detail.source), /quantization\/auto_gptq\.py$/);
  const sym = compileTarget(gptq, w4({ default: { ...builtin('w4a16-g128-gptq').default, symmetric: true } }));
  t.deepEqual(sym.violations, []);
  t.is(sym.stack.checkpoint, 'gptq');
  // compressed-tensors stores zero points: the same asymmetric recipe loads from it.
  t.deepEqual(compileTarget(VLLM, builtin('w4a16-g128-gptq')).violations, []);
});

test('sparse fp16 outliers and Hadamard on experts: vllm.outliers.none and vllm.transform.hadamard-linear-only', (t) => {
  const r = compileTarget(VLLM, builtin('research-moe-sensitive4-rest2-outliers'));
  t.deepEqual(rulesOf(r), ['vllm.checkpoint.compressed-tensors.evoquant', 'vllm.moe.one-scheme-per-layer', 'vllm.outliers.none', 'vllm.transform.hadamard-linear-only']);
  t.deepEqual(firing(r, 'vllm.transform.hadamard-linear-only').map((v) => v.role).sort(), ['expert_down', 'expert_gate', 'expert_up']);
  const roles = builtin('w4a16-g128-gptq').roles;
  const outliers = compileTarget(VLLM, w4({ roles: { ...roles, attn_o: { outliers: { fraction: 0.01 } } } }));
  t.deepEqual(rulesOf(outliers), ['vllm.outliers.none']);
  t.is(firing(outliers, 'vllm.outliers.none')[0].role, 'attn_o');
  // vLLM reads rotations of ordinary linear layers as transform_config matrices, which evoquant's
  // compressed-tensors writer does not produce yet: refused by the checkpoint's rule, not the stack's.
  const rotatedAttn = compileTarget(VLLM, w4({ roles: { ...roles, attn_o: { rotation: { kind: 'hadamard', seed: 1 } } } }));
  t.deepEqual(rulesOf(rotatedAttn), ['vllm.checkpoint.compressed-tensors.evoquant']);
  t.regex(firing(rotatedAttn, 'vllm.checkpoint.compressed-tensors.evoquant')[0].message, /carries no Hadamard rotation/);
  const rotatedExperts = compileTarget(VLLM, w4({ roles: { ...roles, expert_down: { rotation: { kind: 'hadamard', seed: 1 } } } }));
  t.deepEqual(rulesOf(rotatedExperts), ['vllm.checkpoint.compressed-tensors.evoquant', 'vllm.transform.hadamard-linear-only']);
});

test('per-expert AWQ scales cannot fold into the shared norm: vllm.awq.fold-shared-input', (t) => {
  const roles = builtin('w4a16-g128-gptq').roles;
  const r = compileTarget(VLLM, w4({ roles: { ...roles, expert_gate: { method: { kind: 'awq' } }, expert_up: { method: { kind: 'awq' } } } }));
  t.deepEqual(rulesOf(r), ['vllm.awq.fold-shared-input']);
  t.deepEqual(firing(r, 'vllm.awq.fold-shared-input').map((v) => v.role).sort(), ['expert_gate', 'expert_up']);
  t.regex(firing(r, 'vllm.awq.fold-shared-input')[0].message, /method\.scales: shared-input/);
  // One scale vector per layer's experts folds into post_attention_layernorm: servable.
  const shared = { method: { kind: 'awq', scales: 'shared-input' } } as const;
  t.deepEqual(notServable(compileTarget(VLLM, w4({ roles: { ...roles, expert_gate: shared, expert_up: shared } }))), []);
  // down_proj's scales fold into its own expert's up_proj: not a shared input, per-module or not.
  t.deepEqual(notServable(compileTarget(VLLM, w4({ roles: { ...roles, expert_down: { method: { kind: 'awq' } } } }))), []);
  t.deepEqual(notServable(compileTarget(VLLM, w4({ roles: { ...roles, expert_down: shared } }))), []);
  // So do q/k/v into input_layernorm.
  t.deepEqual(notServable(compileTarget(VLLM, w4({ roles: { ...roles, attn_q: shared, attn_k: shared, attn_v: shared } }))), []);
  // Behind an online Hadamard s lives in the rotated basis: nothing before the layer can hold it.
  const rotated = { ...shared, rotation: { kind: 'hadamard', seed: 3 } } as const;
  const r2 = compileTarget(VLLM, w4({ roles: { ...roles, attn_q: rotated, attn_k: rotated, attn_v: rotated } }));
  t.deepEqual(rulesOf(r2), ['vllm.awq.rotated-input', 'vllm.checkpoint.compressed-tensors.evoquant'].sort());
  t.regex(String(firing(r2, 'vllm.awq.rotated-input')[0].detail.source), /compressed_tensors\/transform\/linear\.py$/);
});

test('a shared AWQ scale that a sibling of the same input does not take: vllm.awq.fold-shared-input', (t) => {
  const roles = builtin('w4a16-g128-gptq').roles;
  const shared = { method: { kind: 'awq', scales: 'shared-input' } } as const;
  // q takes the shared s, k and v stay GPTQ: the norm would fold s into k and v too.
  const partial = compileTarget(VLLM, w4({ roles: { ...roles, attn_q: shared } }));
  t.deepEqual(rulesOf(partial), ['vllm.awq.fold-shared-input']);
  const v = firing(partial, 'vllm.awq.fold-shared-input')[0];
  t.is(v.detail.roles, 'attn_k,attn_v');
  t.is(v.detail.layers, 94);
  t.regex(v.message, /quantized without the shared AWQ scale of their input/);
  // Two α grids on one input are two searches, hence two vectors.
  const split = compileTarget(VLLM, w4({ roles: { ...roles, expert_gate: shared, expert_up: { method: { kind: 'awq', scales: 'shared-input', scaleGrid: 10 } } } }));
  t.regex(firing(split, 'vllm.awq.fold-shared-input')[0]?.message ?? '', /different AWQ scale grids or rotations/);
  // A module of the input kept in bf16 takes W·diag(s) exactly: the router here.
  t.deepEqual(notServable(compileTarget(VLLM, w4({ roles: { ...roles, expert_gate: shared, expert_up: shared, router: { bits: 16 } } }))), []);
  // The reference executor runs what it measured.
  t.deepEqual(notServable(compileTarget({ ...QWEN235_A100_TP2, stack: 'reference' }, w4({ roles: { ...roles, attn_q: shared } }))), []);
});

test('AWQ on attn_o folds into v_proj only without grouped KV heads: vllm.awq.o-proj-gqa', (t) => {
  const roles = builtin('w4a16-g128-gptq').roles;
  const awqO = w4({ roles: { ...roles, attn_o: { method: { kind: 'awq', scales: 'shared-input' } } } });
  // Qwen3-235B-A22B: 64 query heads on 4 KV heads.
  const gqa = compileTarget(VLLM, awqO);
  t.deepEqual(rulesOf(gqa), ['vllm.awq.o-proj-gqa']);
  t.is(firing(gqa, 'vllm.awq.o-proj-gqa')[0].role, 'attn_o');
  t.deepEqual(rulesOf(compileTarget({ ...QWEN235_A100_TP2, stack: 'llama.cpp' }, awqO)).filter((r) => r.includes('awq')), ['llama.cpp.awq.o-proj-gqa']);
  // One KV head per query head (multi-head attention): the fold exists.
  const llama = normaliseModelConfig(LLAMA3_8B, 'llama3-8b');
  const mha = { ...llama, numKeyValueHeads: llama.numAttentionHeads };
  const deployment = { gpus: 1, tensorParallel: 1 };
  const hardware = getHardwareProfile('a100-80gb');
  t.deepEqual(notServable(compile({ model: mha, hardware, deployment, recipe: awqO, stack: 'vllm' })), []);
  t.deepEqual(rulesOf(compile({ model: llama, hardware, deployment, recipe: awqO, stack: 'vllm' })), ['vllm.awq.o-proj-gqa']);
});

test('FP8 activations on A100 stay kernel-unsupported (the GPU check); on H100 vLLM serves them through CUTLASS', (t) => {
  const a100 = compileTarget(VLLM, builtin('fp8-w8a8'));
  // The GPU check says why (no FP8 tensor cores); the stack's table agrees with its own reason.
  t.true(a100.violations.some((v) => v.code === 'kernel-unsupported' && /no FP8 tensor cores/.test(v.message)));
  t.deepEqual(rulesOf(a100), ['vllm.checkpoint.compressed-tensors.evoquant', 'vllm.kernels.dense-linear', 'vllm.kernels.moe-experts']);
  t.regex(firing(a100, 'vllm.kernels.dense-linear')[0].message, /cutlass-scaled-mm-fp8: needs SM ≥ 8\.9/);
  const h100 = compileTarget({ ...VLLM, hardware: 'h100-80gb', gpus: 4, tensorParallel: 4 }, builtin('fp8-w8a8'));
  // vLLM serves it; evoquant's compressed-tensors writer is weight-only, so its checkpoint rule refuses it.
  t.deepEqual(rulesOf(h100), ['vllm.checkpoint.compressed-tensors.evoquant']);
  t.deepEqual(h100.violations.filter((v) => v.code !== 'not-servable'), []);
  // The kernels themselves exist: no kernels rule fires, only the writer's checkpoint rule.
  t.regex(firing(h100, 'vllm.checkpoint.compressed-tensors.evoquant')[0].message, /weight-only, not fp8 W8A8/);
});

test('KV cache: vLLM stores fp8 (not the policy\'s int formats); a quantized router has no vLLM kernel; embeddings take symmetric int only', (t) => {
  t.deepEqual(notServable(compileTarget(VLLM, w4({ kvCacheBits: 8 }))), []);
  const kv4 = compileTarget(VLLM, w4({ kvCacheBits: 4 }));
  t.deepEqual(rulesOf(kv4), ['vllm.kv-cache.dtypes']);
  t.regex(notServable(kv4)[0].message, /kv cache: no int4\/token\/g128 keys cache .*\[vllm\.kv-cache\.dtypes; vllm\/config\/cache\.py\]/);
  const roles = builtin('w4a16-g128-gptq').roles;
  const router = compileTarget(VLLM, w4({ roles: { ...roles, router: { bits: 8, groupSize: 'channel' }, embeddings: { bits: 8, groupSize: 'channel' } } }));
  t.deepEqual(rulesOf(router), ['vllm.kernels.embeddings', 'vllm.kernels.router']);
  t.regex(firing(router, 'vllm.kernels.embeddings')[0].message, /ct-embedding-wna16: no zero points at 8 bits/);
  const symEmbed = compileTarget(VLLM, w4({ roles: { ...roles, embeddings: { bits: 8, groupSize: 'channel', symmetric: true } } }));
  t.deepEqual(notServable(symEmbed), []);
  t.is(symEmbed.kernels.find((k) => k.role === 'embeddings')?.kernel, 'ct-embedding-wna16');
});

test('which builtins vllm 0.33.0 serves on Qwen3-235B-A22B / 2×A100 TP2 (uniform int and fp8-weight ones, per-layer MoE ones, shared-input AWQ)', (t) => {
  const verdicts = [...BUILTIN_RECIPES.keys()].map((name) => {
    const r = compileTarget(VLLM, builtin(name));
    const codes = [...new Set(r.violations.map((v) => v.code).filter((c) => c !== 'does-not-fit'))].sort();
    return `${name}: ${codes.length ? codes.join('+') : 'servable'}${codes.includes('not-servable') ? ` (${rulesOf(r).join(', ')})` : ''}`;
  });
  t.deepEqual(verdicts, [
    'bf16: servable',
    'fp8-w8a8: kernel-unsupported+not-servable (vllm.checkpoint.compressed-tensors.evoquant, vllm.kernels.dense-linear, vllm.kernels.moe-experts)',
    'fp8-w8a16: servable',
    'w8a16: servable',
    'w4a16-g128-rtn: servable',
    'w3a16-g128-rtn: servable',
    'w2a16-g64-rtn: servable',
    'w4a16-g128-gptq: servable',
    'w3a16-g128-gptq: servable',
    'w2a16-g64-gptq: servable',
    'w4a16-g128-awq: servable',
    'w3a16-g128-awq: servable',
    'w2a16-g64-awq: servable',
    'moe-layers-sensitive4-rest3: servable',
    'moe-layers-sensitive4-rest2: servable',
    'moe-edges8-experts3-gptq: servable',
    'moe-edges8-experts3: servable',
    'moe-prune25-w4a16-g128: servable',
    'research-moe-hot4-cold3: not-servable (vllm.moe.one-scheme-per-layer)',
    'research-moe-sensitive4-rest2-outliers: not-servable (vllm.checkpoint.compressed-tensors.evoquant, vllm.moe.one-scheme-per-layer, vllm.outliers.none, vllm.transform.hadamard-linear-only)',
  ]);
});

test('vllm is the default stack; reference admits what compile admitted before; other stacks only add not-servable (and vLLM\'s compressed-tensors checkpoint has its own bytes)', (t) => {
  const targets: CompileTargetInput[] = [
    QWEN235_A100_TP2,
    { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 8, tensorParallel: 8 },
    { model: 'qwen3-30b-a3b', hardware: 'l40s', gpus: 1, tensorParallel: 1 },
  ];
  for (const target of targets) {
    for (const recipe of BUILTIN_RECIPES.values()) {
      const byDefault = compileTarget(target, recipe);
      t.deepEqual(compileTarget({ ...target, stack: 'vllm' }, recipe), byDefault);
      t.is(byDefault.stack.id, 'vllm');
      const ref = compileTarget({ ...target, stack: 'reference' }, recipe);
      t.deepEqual(notServable(ref), []);
      t.true(ref.stack.researchOnly);
      for (const stack of ['vllm', 'llama.cpp']) {
        const other = compileTarget({ ...target, stack }, recipe);
        const label = `${recipe.name} on ${target.model}/${target.hardware}×${target.gpus} ${stack}`;
        if (other.stack.checkpoint === 'compressed-tensors') {
          // vLLM loads a compressed-tensors checkpoint, whose bytes differ from evoquant's own
          // (int32-packed rows, fp32 scales, weight_shape, AWQ folded: physics/weight-bytes.ts),
          // so sizes move; the other violations are still the same kinds.
          t.deepEqual(
            other.violations.filter((v) => v.code !== 'not-servable').map((v) => v.code),
            ref.violations.map((v) => v.code),
            label,
          );
          continue;
        }
        t.deepEqual(other.violations.filter((v) => v.code !== 'not-servable'), ref.violations, label);
        t.deepEqual(other.weightBytes, ref.weightBytes, label);
        t.deepEqual(other.perGpu, ref.perGpu, label);
      }
    }
  }
});

test('llama.cpp: one ggml type per expert tensor of a layer, 32-wide blocks', (t) => {
  const target = { ...QWEN235_A100_TP2, stack: 'llama.cpp' };
  const tiers = compileTarget(target, builtin('research-moe-hot4-cold3'));
  t.true(rulesOf(tiers).includes('llama.cpp.moe.one-type-per-expert-tensor'));
  const g32: Recipe = w4({ default: { ...builtin('w4a16-g128-gptq').default, groupSize: 32 } });
  const r = compileTarget(target, g32);
  t.deepEqual(r.violations, []);
  t.is(r.stack.checkpoint, 'gguf');
  // gate/up/down are separate GGUF tensors: they may take different types.
  const roles = g32.roles;
  t.deepEqual(notServable(compileTarget(target, w4({ default: g32.default, roles: { ...roles, expert_down: { bits: 8, symmetric: true } } }))), []);
  t.deepEqual(rulesOf(compileTarget(target, builtin('w4a16-g128-gptq'))), ['llama.cpp.kernels.dense-linear', 'llama.cpp.kernels.moe-experts']);
});

test('compile() takes the stack directly; a checkpoint the stack cannot load is refused naming the field', (t) => {
  const model = normaliseModelConfig(LLAMA3_8B, 'llama3-8b');
  const hardware = getHardwareProfile('a100-80gb');
  const deployment = { gpus: 1, tensorParallel: 1 };
  const r = compile({ model, hardware, deployment, recipe: builtin('w4a16-g128-gptq'), stack: 'vllm' });
  t.deepEqual(r.violations, []);
  t.is(r.kernels.find((k) => k.role === 'dense_mlp')?.kernel, 'marlin');
  const err = t.throws(() => compileTarget({ ...VLLM, checkpoint: 'gguf' }, builtin('bf16')), { instanceOf: InvalidDeploymentError });
  t.is(err?.message, 'target.checkpoint: vllm loads compressed-tensors, gptq, not gguf');
  const unknown = t.throws(() => compileTarget({ ...QWEN235_A100_TP2, stack: 'tgi' }, builtin('bf16')), { instanceOf: InvalidDeploymentError });
  t.regex(unknown?.message ?? '', /^target\.stack: stack must be one of reference, vllm, llama\.cpp$/);
});

test('evoquant compile --stack vllm --recipe builtin:research-moe-hot4-cold3 reports not-servable naming per-expert tiers', (t) => {
  const args = ['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', '2', '--stack', 'vllm', '--recipe', 'builtin:research-moe-hot4-cold3'];
  const text = runCli(args);
  t.is(text.status, 0, text.stderr);
  t.regex(text.stdout, /^stack +vllm 0\.33\.0 \(compressed-tensors checkpoint\)$/m);
  t.regex(text.stdout, /^violation +\[not-servable\] not servable on vllm 0\.33\.0: per-expert bit tiers inside a layer: .*\[vllm\.moe\.one-scheme-per-layer; .*compressed_tensors_moe\.py\]$/m);
  t.regex(text.stdout, /^kernels +.*expert_gate→humming-moe.*expert_gate→marlin-moe/m);
  const json = CompileReport.parse(JSON.parse(runCli([...args, '--json']).stdout));
  t.deepEqual(rulesOf(json), ['vllm.moe.one-scheme-per-layer']);
  // vllm is the default: without --stack the report is the same.
  const byDefault = runCli(['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', '2', '--recipe', 'builtin:research-moe-hot4-cold3']);
  t.is(byDefault.stdout, text.stdout);
  // The reference stack runs research designs and prints no stack line: reports read as they did before stacks.
  const ref = runCli([...args.filter((a) => a !== '--stack' && a !== 'vllm'), '--stack', 'reference']);
  t.is(ref.status, 0);
  t.notRegex(ref.stdout, /^stack/m);
  t.notRegex(ref.stdout, /not-servable/);
});

test('evoquant compile --stack with an unknown stack or checkpoint: exit 2, one line naming the field', (t) => {
  const base = ['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', '2', '--recipe', 'builtin:bf16'];
  for (const [extra, re] of [
    [['--stack', 'vlm'], /^evoquant: target\.stack: stack must be one of reference, vllm, llama\.cpp\n$/],
    [['--stack', 'vllm', '--checkpoint', 'gguf'], /^evoquant: target\.checkpoint: vllm loads compressed-tensors, gptq, not gguf\n$/],
    [['--stack', '__proto__'], /^evoquant: target\.stack: /],
  ] as const) {
    const r = runCli([...base, ...extra]);
    t.is(r.status, 2, extra.join(' '));
    t.is(r.stdout, '');
    t.regex(r.stderr, re);
  }
});

test('the evolution config takes an optional target.stack; an unknown one is refused by field', (t) => {
  const config = { name: 'e', target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2 } };
  t.is(EvolutionConfig.parse(config).target.stack, undefined);
  t.is(EvolutionConfig.parse({ ...config, target: { ...config.target, stack: 'vllm' } }).target.stack, 'vllm');
  const bad = EvolutionConfig.safeParse({ ...config, target: { ...config.target, stack: 'tgi' } });
  t.deepEqual(bad.error?.issues[0].path, ['target', 'stack']);
});

test('the evolution target\'s stack reaches the candidates\' compile verdict (absent: vllm)', (t) => {
  const target = EvolutionConfig.parse({ name: 'e', target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2 } }).target;
  const candidate = { id: 'c1', generation: 0, recipe: builtin('research-moe-hot4-cold3'), parents: [], technique: null };
  t.deepEqual(compileVerdict({ candidate, target: { ...target, stack: 'reference' } }).violations, []);
  t.deepEqual(compileVerdict({ candidate, target }).violations, ['not-servable']);
  const onVllm = compileVerdict({ candidate, target: { ...target, stack: 'vllm' } });
  t.deepEqual(onVllm.violations, ['not-servable']);
  t.regex(onVllm.violationMessages[0], /per-expert bit tiers inside a layer.*\[vllm\.moe\.one-scheme-per-layer; /);
  t.deepEqual(compileVerdict({ candidate: { ...candidate, recipe: builtin('w4a16-g128-gptq') }, target: { ...target, stack: 'vllm' } }).violations, []);
});

const LLAMA_A100_TP2 = { model: 'llama-3.1-70b', hardware: 'a100-80gb', gpus: 2, tensorParallel: 2, contextLength: 8192 } as const;
const KIVI = { keys: { format: 'int4', axis: 'channel', groupSize: 32 }, values: { format: 'int4', axis: 'token', groupSize: 32 } } as const;
const kvRules = (r: CompileReport): string[] => notServable(r).filter((v) => String(v.detail.rule).includes('kv-cache')).map((v) => v.message.replace(/^.*kv cache: /, '').replace(/ \[.*$/, '')).sort();

test('KV policies per stack: vLLM serves bf16/fp8 and bf16 skip layers; llama.cpp q4_1 per K or V; reference serves KIVI, windows, sinks, pre-RoPE and Hadamard keys', (t) => {
  const on = (stack: string, kvCache: NonNullable<RecipeInput['kvCache']>): string[] => kvRules(compileTarget({ ...LLAMA_A100_TP2, stack }, w4({ kvCache })));
  // vLLM: one --kv-cache-dtype for K and V, fp8 e4m3 or e5m2; bf16 layers through --kv-cache-dtype-skip-layers.
  t.deepEqual(on('vllm', { keys: { format: 'fp8_e5m2' }, values: { format: 'fp8_e5m2' } }), []);
  t.deepEqual(on('vllm', { keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' }, layers: [{ from: 0, to: 0.1, override: { keys: { format: 'bf16' }, values: { format: 'bf16' } } }] }), []);
  t.deepEqual(on('vllm', { ...KIVI, recentWindow: 128, sinkTokens: 4, keyPosition: 'pre-rope', keyRotation: 'hadamard' }), [
    'no int4/channel/g32 keys cache (stores auto/bfloat16, fp8/fp8_e4m3, fp8_e5m2)',
    'no int4/token/g32 values cache (stores auto/bfloat16, fp8/fp8_e4m3, fp8_e5m2)',
    'keys int4/channel/g32 and values int4/token/g32 differ: one cache dtype for both',
    'no full-precision recent window (128 tokens)',
    'no full-precision sink tokens (4)',
    'keys are cached after RoPE: no pre-RoPE key quantization',
    'no Hadamard rotation of cached keys',
  ].sort());
  t.deepEqual(on('vllm', { keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e5m2' } }), ['keys fp8_e4m3 and values fp8_e5m2 differ: one cache dtype for both']);
  t.deepEqual(on('vllm', { keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' }, layers: [{ from: 0.5, to: 1, override: { keys: { format: 'fp8_e5m2' }, values: { format: 'fp8_e5m2' } } }] }), [
    'layers cache in 2 different formats: one cache dtype per model',
  ]);
  // llama.cpp: q4_1 is exactly int4 per token in groups of 32 with an fp16 scale and min; K and V set apart.
  t.deepEqual(on('llama.cpp', { keys: { format: 'bf16' }, values: { format: 'int4', axis: 'token', groupSize: 32 } }), []);
  t.deepEqual(on('llama.cpp', { keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' } }), [
    'no fp8_e4m3 keys cache (stores bf16, q4_1)',
    'no fp8_e4m3 values cache (stores bf16, q4_1)',
  ].sort());
  t.deepEqual(on('llama.cpp', { keys: { format: 'int4', axis: 'token', groupSize: 128 }, values: { format: 'bf16' } }), ['no int4/token/g128 keys cache (stores bf16, q4_1)']);
  // Genes over an unquantized cache change nothing and are not held against a stack.
  t.deepEqual(on('vllm', { recentWindow: 64, keyPosition: 'pre-rope' }), []);
  // Reference: the forward pass simulates every policy.
  const ref = compileTarget({ ...LLAMA_A100_TP2, stack: 'reference' }, w4({ kvCache: { ...KIVI, keys: { format: 'int2', axis: 'channel', groupSize: 16 }, recentWindow: 128, sinkTokens: 4, keyPosition: 'pre-rope', keyRotation: 'hadamard', layers: [{ from: 0.5, to: 1, override: { values: { format: 'int8', axis: 'token', groupSize: 64 } } }] } }));
  t.deepEqual(notServable(ref), []);
  t.is(ref.kvCache.bands.length, 2);
});
