// Quantizers on the committed proxy's real weights, calibrated on real activations.
import test from 'ava';
import { captureCalibration, type CalibrationSet } from '../science/compression/calibration.js';
import { siteKey } from '../science/model/calibration-site.js';
import { loadBrown } from '../science/corpus/brown.js';
import { linear } from '../science/kernels/matmul.js';
import { proxyModules, type ProxyModule } from '../science/model/modules.js';
import { MissingCalibrationError } from '../science/quantization/errors.js';
import { quantizeLinear } from '../science/quantization/quantize-linear.js';
import { dequantize } from '../science/quantization/quantized-linear.js';
import type { QuantSpecInput } from '../schema/recipe.js';
import { proxy } from './helpers/proxy.js';
import { realLayerActivations } from './helpers/real-layers.js';

let calibration: CalibrationSet;
let heldOut: CalibrationSet;

test.before(async () => {
  ({ calibration, heldOut } = await realLayerActivations());
});

function hottestExpert(layer: number): number {
  const counts = calibration.routedCounts[layer];
  return counts.indexOf(Math.max(...counts));
}

function moduleOf(tensorPart: string): ProxyModule {
  const m = proxyModules(proxy().weights.config).find((x) => x.tensor.includes(tensorPart));
  if (!m) throw new Error(`no module ${tensorPart}`);
  return m;
}

/** ‖X Wᵀ − X Ŵᵀ‖² / ‖X Wᵀ‖² on held-out activation rows. */
async function outputError(m: ProxyModule, spec: QuantSpecInput): Promise<number> {
  const w = proxy().weights.tensors.get(m.tensor)!;
  const stats = calibration.stats.get(siteKey(m.calibration!))!;
  const q = await quantizeLinear(w, m.outFeatures, m.inFeatures, stats, spec as never, { label: m.tensor });
  const testStats = heldOut.stats.get(siteKey(m.calibration!))!;
  const x = testStats.samples();
  const rows = testStats.sampleCount;
  const y = await linear(x, w, rows, m.inFeatures, m.outFeatures);
  const yq = await linear(x, dequantize(q), rows, m.inFeatures, m.outFeatures);
  let err = 0;
  let norm = 0;
  for (let i = 0; i < y.length; i++) {
    err += (y[i] - yq[i]) ** 2;
    norm += y[i] ** 2;
  }
  return err / norm;
}

const SETTINGS = [
  { bits: 4, groupSize: 128 },
  { bits: 3, groupSize: 128 },
  { bits: 2, groupSize: 64 },
] as const;

for (const target of ['attn_q', 'expert_gate', 'expert_down'] as const) {
  test(`GPTQ and AWQ beat RTN on the proxy's real ${target} at equal bits`, async (t) => {
    const layer = 1;
    const m =
      target === 'attn_q'
        ? moduleOf(`layers.${layer}.self_attn.q_proj`)
        : moduleOf(`layers.${layer}.mlp.experts.${hottestExpert(layer)}.${target === 'expert_gate' ? 'gate' : 'down'}_proj`);
    for (const s of SETTINGS) {
      const rtn = await outputError(m, { ...s, method: { kind: 'rtn' } });
      const gptq = await outputError(m, { ...s, method: { kind: 'gptq', damp: 0.01, blockSize: 128, actOrder: true } });
      const awq = await outputError(m, { ...s, method: { kind: 'awq', scaleGrid: 20, clip: true, clipGrid: 10, maxShrink: 0.5 } });
      t.log(`${m.tensor} w${s.bits}g${s.groupSize}: rtn ${rtn.toExponential(3)} gptq ${gptq.toExponential(3)} awq ${awq.toExponential(3)}`);
      t.true(gptq < rtn, `GPTQ ${gptq} < RTN ${rtn} at w${s.bits}g${s.groupSize}`);
      t.true(awq < rtn, `AWQ ${awq} < RTN ${rtn} at w${s.bits}g${s.groupSize}`);
    }
  });
}

test('balanced calibration reaches every expert of every layer', (t) => {
  const c = proxy().weights.config;
  t.is(calibration.coverage.length, c.num_hidden_layers * c.num_experts);
  for (const cov of calibration.coverage) {
    const stats = calibration.stats.get(siteKey({ kind: 'expert_input', layer: cov.layer, expert: cov.expert }));
    t.truthy(stats, `layer ${cov.layer} expert ${cov.expert} has calibration`);
    t.is(stats!.count, cov.routed + cov.added);
    t.true(stats!.count >= 128, `layer ${cov.layer} expert ${cov.expert}: ${stats!.count} tokens`);
    const down = calibration.stats.get(siteKey({ kind: 'expert_down_input', layer: cov.layer, expert: cov.expert }))!;
    t.is(down.count, stats!.count, 'down_proj sees the same tokens');
  }
});

test('without balancing a rarely routed expert gets no tokens, and GPTQ refuses it with a typed error', async (t) => {
  const small = await captureCalibration(proxy().model, loadBrown().train, { tokens: 8, seq: 8, minTokensPerExpert: 0 });
  const starved = small.coverage.find((c) => c.routed === 0);
  t.truthy(starved, 'some expert receives no token from 8 calibration bytes');
  const m = moduleOf(`layers.${starved!.layer}.mlp.experts.${starved!.expert}.gate_proj`);
  const stats = small.stats.get(siteKey(m.calibration!)) ?? null;
  await t.throwsAsync(
    quantizeLinear(proxy().weights.tensors.get(m.tensor)!, m.outFeatures, m.inFeatures, stats, { bits: 4, format: 'int', groupSize: 128, symmetric: false, method: { kind: 'gptq', damp: 0.01, blockSize: 128, actOrder: true } }),
    { instanceOf: MissingCalibrationError },
  );
  const balanced = await captureCalibration(proxy().model, loadBrown().train, { tokens: 8, seq: 8, minTokensPerExpert: 4 });
  t.true(balanced.coverage.every((c) => c.routed + c.added >= 4), 'balancing tops every expert up');
});
