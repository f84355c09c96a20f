import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelConfig, loadModelConfigFile, shippedModelNames } from '../science/model-configs/load.js';
import { normaliseModelConfig } from '../science/model-configs/normalise.js';
import { InvalidModelConfigError, ModelArchitecture, UnknownModelError } from '../schema/model-config.js';
import { LLAMA3_8B, MIXTRAL_8X7B, PROXY } from './helpers/physics-configs.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

test('shipped names list the two Qwen3 MoE models and the two dense long-context targets', (t) => {
  t.deepEqual(shippedModelNames(), ['llama-3.1-70b', 'qwen2.5-72b', 'qwen3-235b-a22b', 'qwen3-30b-a3b']);
});

test('Llama-3.1-70B and Qwen2.5-72B normalise to their config.json facts: dense, GQA 64/8, head_dim 128', (t) => {
  const l = loadModelConfig('meta-llama/Llama-3.1-70B');
  t.is(l.name, 'llama-3.1-70b');
  t.is(l.family, 'llama');
  t.deepEqual([l.numLayers, l.hiddenSize, l.numAttentionHeads, l.numKeyValueHeads, l.headDim, l.vocabSize, l.maxPositionEmbeddings], [80, 8192, 64, 8, 128, 128256, 131072]);
  t.is(l.moe, null);
  t.false(l.tieWordEmbeddings);
  t.false(l.attentionBias);
  t.true(l.mlpKinds.every((k) => k === 'dense'));
  const q = loadModelConfig('Qwen/Qwen2.5-72B');
  t.is(q.family, 'qwen2');
  t.deepEqual([q.numLayers, q.hiddenSize, q.numAttentionHeads, q.numKeyValueHeads, q.headDim, q.vocabSize], [80, 8192, 64, 8, 128, 152064]);
  t.true(q.attentionBias, 'Qwen2 carries q/k/v biases');
  t.false(q.tieWordEmbeddings);
  for (const a of [l, q]) t.notThrows(() => ModelArchitecture.parse(a));
});

test('Qwen3-235B-A22B normalises to the guide facts', (t) => {
  const a = loadModelConfig('qwen3-235b-a22b');
  t.is(a.family, 'qwen3_moe');
  t.is(a.numLayers, 94);
  t.is(a.hiddenSize, 4096);
  t.is(a.numAttentionHeads, 64);
  t.is(a.numKeyValueHeads, 4);
  t.is(a.headDim, 128);
  t.is(a.vocabSize, 151936);
  t.false(a.tieWordEmbeddings);
  t.true(a.qkNorm);
  t.false(a.attentionBias);
  t.deepEqual(a.moe, { numExperts: 128, numExpertsPerTok: 8, expertIntermediateSize: 1536, sharedExpertIntermediateSize: 0, sharedExpertGate: false });
  t.true(a.mlpKinds.every((k) => k === 'moe'));
  t.notThrows(() => ModelArchitecture.parse(a));
});

test('lookup accepts the HF repo id and any case', (t) => {
  t.is(loadModelConfig('Qwen/Qwen3-30B-A3B').name, 'qwen3-30b-a3b');
  t.is(loadModelConfig('QWEN3-235B-A22B').numLayers, 94);
});

test('unknown model is a typed one-line error naming it', (t) => {
  const err = t.throws(() => loadModelConfig('qwen9-1t'), { instanceOf: UnknownModelError });
  t.is(err?.message, 'model: unknown model "qwen9-1t" (known: llama-3.1-70b, qwen2.5-72b, qwen3-235b-a22b, qwen3-30b-a3b; or a path to a HF config.json)');
  t.false(err?.message.includes('\n'));
});

test('configs load by path to a file or to its folder', (t) => {
  const dir = makeTempDir('physics-cfg');
  try {
    const folder = join(dir, 'Meta-Llama-3-8B');
    mkdirSync(folder);
    writeFileSync(join(folder, 'config.json'), JSON.stringify(LLAMA3_8B));
    const byFolder = loadModelConfig(folder);
    const byFile = loadModelConfig(join(folder, 'config.json'));
    t.is(byFolder.name, 'Meta-Llama-3-8B');
    t.deepEqual(byFile, byFolder);
    t.is(byFolder.family, 'llama');
    t.is(byFolder.denseIntermediateSize, 14336);
    t.is(byFolder.moe, null);
    t.is(byFolder.headDim, 128);

    writeFileSync(join(dir, 'broken.json'), '{ not json');
    const err = t.throws(() => loadModelConfigFile(join(dir, 'broken.json')), { instanceOf: InvalidModelConfigError });
    t.regex(err?.message ?? '', /^model "broken": config\.\(file\): cannot read /);
  } finally {
    removeTempDir(dir);
  }
});

test('mixtral: num_local_experts experts of intermediate_size, Mixtral tensor naming', (t) => {
  const a = normaliseModelConfig(MIXTRAL_8X7B, 'mixtral-8x7b');
  t.is(a.naming, 'mixtral');
  t.deepEqual(a.moe, { numExperts: 8, numExpertsPerTok: 2, expertIntermediateSize: 14336, sharedExpertIntermediateSize: 0, sharedExpertGate: false });
  t.false(a.qkNorm);
});

test('the evoquant proxy uses qwen3_moe field names without q/k norms', (t) => {
  const a = normaliseModelConfig(PROXY, 'proxy');
  t.is(a.family, 'evoquant_moe');
  t.is(a.naming, 'qwen');
  t.false(a.qkNorm);
  t.is(a.moe?.numExperts, 8);
  t.is(a.headDim, 32);
});

test('qwen3_moe honours mlp_only_layers and decoder_sparse_step', (t) => {
  const a = normaliseModelConfig({ ...PROXY, model_type: 'qwen3_moe', decoder_sparse_step: 2, mlp_only_layers: [3], intermediate_size: 512 }, 'sparse-step');
  t.deepEqual(a.mlpKinds, ['dense', 'moe', 'dense', 'dense']);
  t.is(a.denseIntermediateSize, 512);
});

test('qwen2_moe has a gated shared expert and q/k/v biases', (t) => {
  const a = normaliseModelConfig({ ...PROXY, model_type: 'qwen2_moe', shared_expert_intermediate_size: 512 }, 'q2moe');
  t.is(a.moe?.sharedExpertIntermediateSize, 512);
  t.true(a.moe?.sharedExpertGate);
  t.true(a.attentionBias);
});

test('invalid configs name the field at fault', (t) => {
  const missing = t.throws(() => normaliseModelConfig({ ...PROXY, moe_intermediate_size: undefined }, 'p'), { instanceOf: InvalidModelConfigError });
  t.is(missing?.message, 'model "p": config.moe_intermediate_size: required for evoquant_moe');
  const family = t.throws(() => normaliseModelConfig({ ...PROXY, model_type: 'gpt2' }, 'p'), { instanceOf: InvalidModelConfigError });
  t.regex(family?.message ?? '', /^model "p": config\.model_type: unsupported "gpt2" \(supported: qwen3_moe, /);
  const bad = t.throws(() => normaliseModelConfig({ ...PROXY, hidden_size: -1 }, 'p'), { instanceOf: InvalidModelConfigError });
  t.regex(bad?.message ?? '', /^model "p": config\.hidden_size: /);
  const kv = t.throws(() => normaliseModelConfig({ ...PROXY, num_key_value_heads: 3 }, 'p'), { instanceOf: InvalidModelConfigError });
  t.regex(kv?.message ?? '', /config\.num_key_value_heads: 3 does not divide/);
});
