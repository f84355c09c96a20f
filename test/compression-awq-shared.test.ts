// AWQ with one scale vector per shared input, on the committed proxy's real weights and activations:
// the modules of one input take bit-identical scales, and what sharing costs in output error
// against per-module AWQ and RTN is measured on held-out text.
import test from 'ava';
import type { CalibrationSet } from '../science/compression/calibration.js';
import { searchSharedScales, sharedInputGroups, type PlannedModule } from '../science/compression/awq-shared-input.js';
import { quantizeProxy, specsFor } from '../science/compression/quantize-model.js';
import { linear } from '../science/kernels/matmul.js';
import { siteKey } from '../science/model/calibration-site.js';
import { awqSearchSharedScales } from '../science/quantization/awq.js';
import { CalibrationStats } from '../science/quantization/calibration-stats.js';
import { quantizeLinear } from '../science/quantization/quantize-linear.js';
import { SyntheticInputs, syntheticWeight } from '../science/quantization/synthetic.js';
import { dequantize } from '../science/quantization/quantized-linear.js';
import { parseRecipe, QuantSpec, type QuantMethod, type RecipeInput } from '../schema/recipe.js';
import { recipeHash } from '../schema/content-hash.js';
import { proxy } from './helpers/proxy.js';
import { realLayerActivations } from './helpers/real-layers.js';

let calibration: CalibrationSet;
let heldOut: CalibrationSet;

test.before(async () => {
  ({ calibration, heldOut } = await realLayerActivations());
});

const AWQ = { kind: 'awq', scaleGrid: 20, clip: true, clipGrid: 10, maxShrink: 0.5 } as const;

/** A recipe quantizing only the shared-input modules (q/k/v, router excluded, experts' gate/up). */
function recipe(method: QuantMethod | RecipeInput['default']['method'], bits: 2 | 3 | 4, groupSize: 64 | 128): RecipeInput {
  const q = { bits, groupSize, method };
  return {
    name: 'shared-input-modules',
    default: { bits: 16 },
    roles: { attn_q: q, attn_k: q, attn_v: q, expert_gate: q, expert_up: q },
  };
}

function planOf(r: RecipeInput): PlannedModule[] {
  return specsFor(proxy().weights, parseRecipe(r), { routing: calibration.routedCounts });
}

test('a recipe without `scales`, or with the default spelled out, parses and hashes as before; shared-input is kept', (t) => {
  const plain = parseRecipe({ name: 'x', default: { bits: 4, method: { kind: 'awq' } } });
  const spelled = parseRecipe({ name: 'x', default: { bits: 4, method: { kind: 'awq', scales: 'per-module' } } });
  t.false('scales' in plain.default.method);
  t.is(recipeHash(spelled as never), recipeHash(plain as never));
  const shared = parseRecipe({ name: 'x', default: { bits: 4, method: { kind: 'awq', scales: 'shared-input' } } });
  t.is((shared.default.method as { scales?: string }).scales, 'shared-input');
  t.not(recipeHash(shared as never), recipeHash(plain as never));
  t.throws(() => parseRecipe({ name: 'x', default: { bits: 4, method: { kind: 'awq', scales: 'per-expert' } } }), { message: /scales/ });
});

test('the modules of one input fall into one group per layer and input: q/k/v, and the experts\' gate/up', (t) => {
  const c = proxy().weights.config;
  const plan = planOf(recipe({ ...AWQ, scales: 'shared-input' }, 4, 128));
  const groups = sharedInputGroups(plan);
  t.is(groups.length, 2 * c.num_hidden_layers);
  for (const g of groups) {
    const roles = [...new Set(g.members.map((i) => plan[i].module.role))].sort();
    if (g.site.kind === 'attention_input') t.deepEqual(roles, ['attn_k', 'attn_q', 'attn_v']);
    else t.deepEqual(roles, ['expert_gate', 'expert_up']);
    if (g.site.kind === 'moe_input') t.is(g.members.length, 2 * c.num_experts);
    t.true(g.members.every((i) => plan[i].module.layer === (g.site as { layer: number }).layer));
  }
  // Per-module scales form no group: each module searches its own.
  t.deepEqual(sharedInputGroups(planOf(recipe(AWQ, 4, 128))), []);
});

test('shared-input AWQ gives every module of an input bit-identical channel scales, deterministically', async (t) => {
  const r = parseRecipe(recipe({ ...AWQ, scaleGrid: 10, clipGrid: 4, scales: 'shared-input' }, 4, 128));
  const a = await quantizeProxy(proxy().weights, r, { calibration });
  const bySite = new Map<string, Uint16Array[]>();
  for (const q of a.modules) {
    if (q.spec.bits === 16) continue;
    t.truthy(q.stored.channelScales, `${q.module.tensor} has AWQ scales`);
    const key = q.module.role.startsWith('attn') ? `attn/${q.module.layer}` : `moe/${q.module.layer}`;
    bySite.set(key, [...(bySite.get(key) ?? []), q.stored.channelScales!]);
  }
  t.is(bySite.size, 2 * proxy().weights.config.num_hidden_layers);
  let nonTrivial = 0;
  for (const [key, scales] of bySite) {
    for (const s of scales) t.deepEqual(s, scales[0], `${key}: one scale vector`);
    if (scales[0].some((v) => v !== scales[0][0])) nonTrivial++;
  }
  t.true(nonTrivial > 0, 'some input searched an α > 0');
  // Different experts' separate searches would not agree; the shared one must equal a fresh run.
  const again = await quantizeProxy(proxy().weights, r, { calibration });
  a.modules.forEach((q, i) => {
    if (q.stored.channelScales) t.deepEqual(again.modules[i].stored.channelScales, q.stored.channelScales);
  });
});

test('the joint search of one module is that module\'s own AWQ, bit for bit; of two, it minimises their summed loss', async (t) => {
  const n = 128;
  const dist = new SyntheticInputs(n, 2);
  const x = dist.sample(1024, 3);
  const stats = new CalibrationStats(n, { maxSamples: 256 });
  await stats.addRows(x, 1024);
  const a = syntheticWeight(48, n, 1);
  const b = syntheticWeight(32, n, 5, { });
  const spec = QuantSpec.parse({ bits: 3, groupSize: 64, method: { kind: 'awq', scaleGrid: 10, clipGrid: 4 } });
  const member = (w: Float32Array, out: number) => ({ w, outFeatures: out, samples: stats.samples(), rows: stats.sampleCount, bits: 3, groupSize: 64 as const, symmetric: false });
  const own = await quantizeLinear(a, 48, n, stats, spec);
  const one = await awqSearchSharedScales([member(a, 48)], stats.meanAbs(), 10);
  t.deepEqual(one.channelScales, own.channelScales);
  const viaShared = await quantizeLinear(a, 48, n, stats, spec, { sharedChannelScales: one.channelScales });
  t.deepEqual(viaShared.codes, own.codes);
  t.deepEqual(viaShared.scales, own.scales);
  const two = await awqSearchSharedScales([member(a, 48), member(b, 32)], stats.meanAbs(), 10);
  const onlyB = await awqSearchSharedScales([member(b, 32)], stats.meanAbs(), 10);
  for (let i = 0; i < 10; i++) t.true(Math.abs(two.losses[i] - (one.losses[i] + onlyB.losses[i])) <= 1e-9 * two.losses[i], `α ${i / 10}: the losses add`);
  const best = Math.min(...two.losses);
  t.true(two.losses[Math.round(two.alpha * 10)] <= best * (1 + 1e-4));
  // A spec without AWQ cannot take a shared s.
  await t.throwsAsync(quantizeLinear(a, 48, n, stats, QuantSpec.parse({ bits: 3, groupSize: 64 }), { sharedChannelScales: one.channelScales }), { instanceOf: RangeError });
});

test('one input with two α grids makes two searches (a research design the reference executor runs)', (t) => {
  const r = recipe({ ...AWQ, scales: 'shared-input' }, 4, 128);
  r.roles = { ...r.roles, attn_k: { bits: 4, groupSize: 128, method: { ...AWQ, scaleGrid: 10, scales: 'shared-input' } } };
  const plan = planOf(r);
  const attn = sharedInputGroups(plan).filter((g) => g.site.kind === 'attention_input' && g.site.layer === 0);
  t.deepEqual(attn.map((g) => g.members.map((i) => plan[i].module.role)), [['attn_q', 'attn_v'], ['attn_k']]);
});

/** Σ ‖X Wᵀ − X Ŵᵀ‖² / Σ ‖X Wᵀ‖² over the modules of one input, each on its own held-out rows. */
async function groupError(plan: PlannedModule[], members: number[], shared: Uint16Array | null): Promise<number> {
  let err = 0;
  let norm = 0;
  for (const i of members) {
    const { module: m, spec } = plan[i];
    const w = proxy().weights.tensors.get(m.tensor)!;
    const stats = calibration.stats.get(siteKey(m.calibration!))!;
    const q = await quantizeLinear(w, m.outFeatures, m.inFeatures, stats, spec, { label: m.tensor, sharedChannelScales: shared ?? undefined });
    const test = heldOut.stats.get(siteKey(m.calibration!));
    if (!test || test.sampleCount === 0) continue;
    const x = test.samples();
    const y = await linear(x, w, test.sampleCount, m.inFeatures, m.outFeatures);
    const yq = await linear(x, dequantize(q), test.sampleCount, m.inFeatures, m.outFeatures);
    for (let k = 0; k < y.length; k++) {
      err += (y[k] - yq[k]) ** 2;
      norm += y[k] ** 2;
    }
  }
  return err / norm;
}

for (const [bits, groupSize] of [[4, 128], [3, 128], [2, 64]] as const) {
  test(`shared-input AWQ vs per-module AWQ and RTN on the proxy's real layer 1, w${bits}g${groupSize}`, async (t) => {
    const layer = 1;
    const sharedPlan = planOf(recipe({ ...AWQ, scales: 'shared-input' }, bits, groupSize));
    const perModulePlan = planOf(recipe(AWQ, bits, groupSize));
    const rtnPlan = planOf(recipe({ kind: 'rtn' }, bits, groupSize));
    const rows: string[] = [];
    for (const group of sharedInputGroups(sharedPlan).filter((g) => (g.site as { layer: number }).layer === layer)) {
      const search = await searchSharedScales(sharedPlan, group, proxy().weights, calibration);
      const shared = await groupError(sharedPlan, group.members, search.channelScales);
      const perModule = await groupError(perModulePlan, group.members, null);
      const rtn = await groupError(rtnPlan, group.members, null);
      rows.push(`${siteKey(group.site)} (${group.members.length} modules, α ${search.alpha.toFixed(2)}): rtn ${rtn.toExponential(3)} per-module ${perModule.toExponential(3)} shared ${shared.toExponential(3)}`);
      // α = 0 is RTN's grid, so the joint search only moves off it when the calibration rows gain.
      t.true(shared < rtn, `${siteKey(group.site)} w${bits}g${groupSize}: shared AWQ ${shared} < RTN ${rtn}`);
      // Sharing constrains s; it may cost a little against each module's own s, never most of AWQ's gain.
      t.true(shared - perModule < 0.5 * (rtn - perModule), `${siteKey(group.site)}: sharing keeps most of AWQ's gain (${shared} vs ${perModule}, RTN ${rtn})`);
    }
    t.is(rows.length, 2);
    for (const r of rows) t.log(`w${bits}g${groupSize} ${r}`);
  });
}
