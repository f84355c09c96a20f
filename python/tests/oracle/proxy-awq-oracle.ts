// The reference executor's calibration + AWQ on the trained proxy, as an oracle for the torch
// executor's proxy AWQ conformance test (python/tests/test_quant_awq_proxy.py): captureCalibration over
// the given text (original mode), the shared-input groups of the listed modules searched jointly
// (awq-shared-input.ts: q/k/v; every expert's gate/up), each member's clipping with that s, and
// per-module AWQ for the others (down_proj), as quantizeLinear runs it; writes codes and s per module.
// Usage: node --import tsx python/tests/oracle/proxy-awq-oracle.ts JOB.json
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { searchSharedScales, sharedInputGroups, type PlannedModule } from '../../../science/compression/awq-shared-input.js';
import { captureCalibration } from '../../../science/compression/calibration.js';
import { loadModel } from '../../../science/compression/quantized-format.js';
import { QuantSpec } from '../../../schema/recipe.js';
import { siteKey } from '../../../science/model/calibration-site.js';
import { ProxyModel } from '../../../science/model/forward.js';
import { proxyModules } from '../../../science/model/modules.js';
import { awqQuantize } from '../../../science/quantization/awq.js';

const Job = z.object({
  proxy: z.string(),
  text: z.string(),
  dir: z.string(),
  tokens: z.number().int().positive(),
  seq: z.number().int().positive(),
  batch: z.number().int().positive(),
  minTokensPerExpert: z.number().int().nonnegative(),
  modules: z.array(z.object({ tensor: z.string(), name: z.string().regex(/^[\w.-]+$/), spec: z.unknown() })),
});

const job = Job.parse(JSON.parse(readFileSync(process.argv[2], 'utf8')));
const weights = loadModel(job.proxy);
const corpus = new Uint8Array(readFileSync(job.text));
const cal = await captureCalibration(new ProxyModel(weights), corpus, { tokens: job.tokens, seq: job.seq, batch: job.batch, minTokensPerExpert: job.minTokensPerExpert });
const byTensor = new Map(proxyModules(weights.config).map((m) => [m.tensor, m]));
const plan: PlannedModule[] = job.modules.map((m) => {
  const module = byTensor.get(m.tensor);
  if (!module || !module.calibration) throw new RangeError(`no calibrated module ${m.tensor}`);
  return { module, spec: QuantSpec.parse(m.spec) };
});
const shared = new Map<number, Uint16Array>();
for (const group of sharedInputGroups(plan)) {
  const search = await searchSharedScales(plan, group, weights, cal);
  for (const i of group.members) shared.set(i, search.channelScales);
}
for (const [i, { module, spec }] of plan.entries()) {
  const w = weights.tensors.get(module.tensor);
  const stats = module.calibration ? cal.stats.get(siteKey(module.calibration)) : undefined;
  if (!w || !stats || spec.method.kind !== 'awq') throw new RangeError(`no weight, statistics or AWQ spec for ${module.tensor}`);
  const m = spec.method;
  const r = await awqQuantize(w, module.outFeatures, module.inFeatures, { meanAbs: stats.meanAbs(), samples: stats.samples(), rows: stats.sampleCount }, {
    bits: spec.bits, groupSize: spec.groupSize, symmetric: spec.symmetric, scaleGrid: m.scaleGrid, clip: m.clip, clipGrid: m.clipGrid, maxShrink: m.maxShrink, channelScales: shared.get(i),
  });
  const name = job.modules[i].name;
  writeFileSync(`${job.dir}/${name}.codes`, r.codes);
  writeFileSync(`${job.dir}/${name}.s`, new Uint8Array(r.channelScales.buffer, r.channelScales.byteOffset, r.channelScales.byteLength));
}
writeFileSync(`${job.dir}/calibration.json`, JSON.stringify({ routedCounts: cal.routedCounts, added: cal.coverage.reduce((s, c) => s + c.added, 0) }));
