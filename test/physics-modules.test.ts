import test from 'ava';
import { loadModelConfig } from '../science/model-configs/load.js';
import { normaliseModelConfig } from '../science/model-configs/normalise.js';
import { enumerateModules, moduleParams } from '../science/physics/modules.js';
import { countParameters } from '../science/physics/parameters.js';
import { roleOfTensor } from '../science/physics/tensor-roles.js';
import { LLAMA3_8B, MIXTRAL_8X7B, PROXY, QWEN25_7B } from './helpers/physics-configs.js';

const within = (actual: number, expected: number, rel = 0.01): boolean => Math.abs(actual - expected) <= rel * expected;

test('Qwen3-235B-A22B parameters by role match the guide within 1%', (t) => {
  const p = countParameters(loadModelConfig('qwen3-235b-a22b'));
  const experts = p.byRole.expert_gate + p.byRole.expert_up + p.byRole.expert_down;
  const attention = p.byRole.attn_q + p.byRole.attn_k + p.byRole.attn_v + p.byRole.attn_o;
  t.true(within(p.total, 235.1e9), `total ${p.total}`);
  t.true(within(experts, 227.1e9), `experts ${experts}`);
  t.true(within(attention, 6.7e9), `attention ${attention}`);
  t.true(within(p.byRole.embeddings + p.byRole.lm_head, 1.24e9), `embeddings ${p.byRole.embeddings + p.byRole.lm_head}`);
  // ≈0.05 B in the guide is rounded to two decimals; the exact count is 94 × 4096 × 128.
  t.is(p.byRole.router, 94 * 4096 * 128);
  t.is(Math.round(p.byRole.router / 1e7) / 100, 0.05);
  // Exact: 94 × (71,303,168 attention + 128 × 18,874,368 experts + 524,288 router) + 2 × 151936 × 4096 + norms.
  t.is(experts, 94 * 128 * 3 * 4096 * 1536);
  t.is(attention, 94 * (2 * 4096 * 8192 + 2 * 4096 * 512));
  t.is(p.norms, 94 * (2 * 4096 + 2 * 128) + 4096);
  t.is(p.total, 235_093_634_560);
  t.is(p.modulesByRole.expert_down, 94 * 128);
  t.is(p.byRole.shared_expert + p.byRole.dense_mlp, 0);
});

test('Qwen3-30B-A3B has ≈30.5 B parameters', (t) => {
  const p = countParameters(loadModelConfig('qwen3-30b-a3b'));
  t.true(within(p.total, 30.5e9), `total ${p.total}`);
  t.is(p.total, 30_532_122_624);
});

test('dense llama: Llama-3-8B has 8.03 B parameters in attention, dense_mlp and embeddings', (t) => {
  const p = countParameters(normaliseModelConfig(LLAMA3_8B, 'llama3-8b'));
  t.is(p.total, 8_030_261_248);
  t.is(p.byRole.dense_mlp, 32 * 3 * 4096 * 14336);
  t.is(p.byRole.expert_gate + p.byRole.router, 0);
});

test('qwen2 counts q/k/v biases with their role', (t) => {
  const p = countParameters(normaliseModelConfig(QWEN25_7B, 'qwen2.5-7b'));
  t.is(p.byRole.attn_q, 28 * (3584 * 3584 + 3584));
  t.is(p.byRole.attn_o, 28 * 3584 * 3584);
  t.is(p.total, 7_615_616_512);
});

test('mixtral: Mixtral-8x7B has 46.7 B parameters', (t) => {
  const p = countParameters(normaliseModelConfig(MIXTRAL_8X7B, 'mixtral'));
  t.is(p.total, 46_702_792_704);
  t.is(p.byRole.router, 32 * 4096 * 8);
});

test('expert quantile is index / E by default and rank / E with statistics', (t) => {
  const arch = loadModelConfig('qwen3-30b-a3b');
  const mods = enumerateModules(arch).filter((m) => m.role === 'expert_up' && m.layer === 0);
  t.is(mods.length, 128);
  t.deepEqual(mods.slice(0, 3).map((m) => m.expertQuantile), [0, 1 / 128, 2 / 128]);
  t.is(mods.filter((m) => m.expertQuantile! < 0.25).length, 32);
  const reversed = enumerateModules(arch, { expertRank: (_l, e) => 127 - e }).filter((m) => m.role === 'expert_up' && m.layer === 0);
  t.is(reversed[0].expertQuantile, 127 / 128);
  t.is(reversed[127].expertQuantile, 0);
});

test('enumeration shapes follow HF [out, in] and TP styles', (t) => {
  const arch = loadModelConfig('qwen3-235b-a22b');
  const layer0 = enumerateModules(arch).filter((m) => m.layer === 0 && (m.expert === null || m.expert === 0));
  const byName = Object.fromEntries(layer0.map((m) => [m.name, m]));
  const q = byName['model.layers.0.self_attn.q_proj.weight'];
  t.like(q, { role: 'attn_q', inFeatures: 4096, outFeatures: 8192, parallel: 'column' });
  t.like(byName['model.layers.0.self_attn.k_proj.weight'], { inFeatures: 4096, outFeatures: 512 });
  t.like(byName['model.layers.0.self_attn.o_proj.weight'], { inFeatures: 8192, outFeatures: 4096, parallel: 'row' });
  t.like(byName['model.layers.0.mlp.gate.weight'], { role: 'router', outFeatures: 128, parallel: 'replicated' });
  t.like(byName['model.layers.0.mlp.experts.0.down_proj.weight'], { role: 'expert_down', expert: 0, inFeatures: 1536, outFeatures: 4096, parallel: 'row' });
  t.like(byName['model.layers.0.mlp.experts.0.gate_proj.weight'], { role: 'expert_gate', inFeatures: 4096, outFeatures: 1536, parallel: 'column' });
  t.is(moduleParams(q), 4096 * 8192);
});

test('every enumerated module maps back through roleOfTensor', (t) => {
  for (const arch of [normaliseModelConfig(PROXY, 'proxy'), normaliseModelConfig(MIXTRAL_8X7B, 'mixtral'), normaliseModelConfig({ ...PROXY, model_type: 'qwen2_moe', shared_expert_intermediate_size: 64 }, 'q2')]) {
    for (const m of enumerateModules(arch)) {
      const r = roleOfTensor(m.name);
      t.truthy(r, m.name);
      t.is(r?.role, m.role, m.name);
      t.is(r?.layer, m.layer, m.name);
      t.is(r?.expert, m.expert, m.name);
    }
  }
});

test('roleOfTensor reads Qwen3-MoE, Mixtral, norms and quantized suffixes', (t) => {
  t.like(roleOfTensor('model.layers.3.self_attn.q_proj.weight'), { role: 'attn_q', layer: 3, expert: null, param: 'weight', kind: 'module' });
  t.like(roleOfTensor('model.layers.12.mlp.gate.weight'), { role: 'router', layer: 12 });
  t.like(roleOfTensor('model.layers.5.mlp.experts.17.down_proj.qweight'), { role: 'expert_down', layer: 5, expert: 17, param: 'qweight', module: 'model.layers.5.mlp.experts.17.down_proj' });
  t.like(roleOfTensor('model.layers.0.block_sparse_moe.experts.7.w1.weight'), { role: 'expert_gate', expert: 7 });
  t.like(roleOfTensor('model.layers.0.block_sparse_moe.experts.7.w3.weight'), { role: 'expert_up', expert: 7 });
  t.like(roleOfTensor('model.layers.0.block_sparse_moe.experts.7.w2.weight_scale'), { role: 'expert_down', param: 'weight_scale' });
  t.like(roleOfTensor('model.layers.0.block_sparse_moe.gate.weight'), { role: 'router' });
  t.like(roleOfTensor('model.layers.2.mlp.shared_expert.up_proj.weight'), { role: 'shared_expert', projection: 'up' });
  t.like(roleOfTensor('model.layers.2.mlp.shared_expert_gate.weight'), { role: 'router', projection: 'shared_gate' });
  t.like(roleOfTensor('model.layers.2.mlp.down_proj.weight'), { role: 'dense_mlp', projection: 'down' });
  t.like(roleOfTensor('model.layers.2.self_attn.k_proj.bias'), { role: 'attn_k', param: 'bias' });
  t.like(roleOfTensor('model.embed_tokens.weight'), { role: 'embeddings', layer: null });
  t.like(roleOfTensor('lm_head.weight'), { role: 'lm_head' });
  t.like(roleOfTensor('model.norm.weight'), { role: null, kind: 'norm' });
  t.like(roleOfTensor('model.layers.1.input_layernorm.weight'), { role: null, kind: 'norm', layer: 1 });
  t.like(roleOfTensor('model.layers.1.self_attn.q_norm.weight'), { role: null, kind: 'norm' });
  t.is(roleOfTensor('transformer.h.0.attn.c_attn.weight'), null);
  t.is(roleOfTensor('model.layers.1.mlp.experts.x.gate_proj.weight'), null);
});
