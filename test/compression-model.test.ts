// Whole-model quantization: recipes applied per role and expert, the stored format, and its bytes.
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureCalibration, type CalibrationSet } from '../science/compression/calibration.js';
import { loadModel, writeQuantizedModel } from '../science/compression/quantized-format.js';
import { quantizeProxy, specsFor } from '../science/compression/quantize-model.js';
import { loadBrown } from '../science/corpus/brown.js';
import { NonFiniteQuantizationError } from '../science/quantization/errors.js';
import { builtinRecipe } from '../science/recipes/builtin.js';
import { parseRecipe } from '../schema/recipe.js';
import { proxy } from './helpers/proxy.js';

let calibration: CalibrationSet;
test.before(async () => {
  calibration = await captureCalibration(proxy().model, loadBrown().train, { tokens: 2048, minTokensPerExpert: 64 });
});

test('a mixed recipe gives hot experts more bits than cold ones, per layer', (t) => {
  const recipe = builtinRecipe('research-moe-hot4-cold3')!;
  const plan = specsFor(proxy().weights, recipe, { routing: calibration.routedCounts });
  const c = proxy().weights.config;
  for (let layer = 0; layer < c.num_hidden_layers; layer++) {
    const counts = calibration.routedCounts[layer];
    const order = counts.map((n, e) => ({ n, e })).sort((a, b) => b.n - a.n || a.e - b.e);
    const bitsOf = (e: number) => plan.find((p) => p.module.layer === layer && p.module.expert === e && p.module.role === 'expert_up')!.spec.bits;
    t.deepEqual(order.map(({ e }) => bitsOf(e)), [4, 4, 3, 3, 3, 3, 3, 3], `layer ${layer}`);
  }
  t.is(plan.find((p) => p.module.role === 'router')!.spec.bits, 16);
  t.is(plan.find((p) => p.module.role === 'attn_o')!.spec.bits, 8);
});

test('expert layer tiers: the layer whose experts are most sensitive takes 4 bits for all its experts, the others 3', (t) => {
  const recipe = builtinRecipe('moe-layers-sensitive4-rest3')!;
  const c = proxy().weights.config;
  // Layer sensitivity is its experts' summed damage: make layer 2 the most sensitive.
  const sensitivity = Array.from({ length: c.num_hidden_layers }, (_, l) => Array.from({ length: c.num_experts }, (_, e) => (l === 2 ? 0.5 : 0.1) + e * 1e-3));
  const plan = specsFor(proxy().weights, recipe, { routing: calibration.routedCounts, sensitivity });
  for (let layer = 0; layer < c.num_hidden_layers; layer++) {
    const bits = new Set(plan.filter((p) => p.module.layer === layer && p.module.expert !== null).map((p) => p.spec.bits));
    t.deepEqual([...bits], [layer === 2 ? 4 : 3], `layer ${layer}: one width for gate/up/down of every expert`);
  }
  t.is(plan.find((p) => p.module.role === 'attn_q')!.spec.bits, 8);
  t.is(plan.find((p) => p.module.role === 'router')!.spec.bits, 16);
  t.throws(() => specsFor(proxy().weights, recipe, { routing: calibration.routedCounts }), { message: /ranks expert layers by sensitivity but no sensitivity profile/ });
});

test('a quantized model round-trips through safetensors exactly and stores what it counts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const recipe = parseRecipe({
    name: 'roundtrip',
    default: { bits: 3, groupSize: 64, method: { kind: 'gptq' } },
    roles: { router: { bits: 16 }, attn_q: { bits: 4, method: { kind: 'awq' } }, lm_head: { bits: 8, format: 'fp8', groupSize: 'channel', symmetric: true, method: { kind: 'rtn' } } },
    experts: { rankBy: 'routing-frequency', tiers: [{ below: 0.5, override: { outliers: { fraction: 0.01 }, rotation: { kind: 'hadamard', seed: 3 } } }] },
  });
  const qp = await quantizeProxy(proxy().weights, recipe, { calibration });
  const out = join(dir, 'model-q');
  writeQuantizedModel(out, qp, proxy().weights.config);
  t.deepEqual(readdirSync(dir), ['model-q'], 'no temporary directory is left behind');
  const loaded = loadModel(out);
  t.is(loaded.quantization?.recipe.name, 'roundtrip');
  for (const [name, w] of qp.weights.tensors) t.deepEqual(loaded.tensors.get(name), w, name);
  const fileBytes = statSync(join(out, 'model.safetensors')).size;
  t.true(fileBytes > qp.bytes.total && fileBytes < qp.bytes.total + 64 * 1024, `file ${fileBytes} vs counted ${qp.bytes.total} (+ header)`);
});

test('a NaN in the weights fails with a typed error and writes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tensors = new Map(proxy().weights.tensors);
  const name = 'model.layers.2.mlp.experts.1.down_proj.weight';
  const poisoned = tensors.get(name)!.slice();
  poisoned[17] = Number.NaN;
  tensors.set(name, poisoned);
  await t.throwsAsync(quantizeProxy({ config: proxy().weights.config, tensors }, builtinRecipe('w4a16-g128-rtn')!, { calibration }), { instanceOf: NonFiniteQuantizationError, message: /down_proj/ });
  t.false(existsSync(join(dir, 'out')));
});
