// The reference executor's calibration + GPTQ on the trained proxy, as an oracle for the torch
// executor's proxy conformance test (python/tests/test_quant_proxy.py): captureCalibration over the
// given text (original mode: every layer on the unquantized model), then gptqQuantize of the listed
// modules on their sites' statistics; writes each module's codes and the routed counts.
// Usage: node --import tsx python/tests/oracle/proxy-gptq-oracle.ts JOB.json
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { captureCalibration } from '../../../science/compression/calibration.js';
import { loadModel } from '../../../science/compression/quantized-format.js';
import { siteKey } from '../../../science/model/calibration-site.js';
import { ProxyModel } from '../../../science/model/forward.js';
import { proxyModules } from '../../../science/model/modules.js';
import { gptqQuantize } from '../../../science/quantization/gptq.js';

const Job = z.object({
  proxy: z.string(),
  text: z.string(),
  dir: z.string(),
  tokens: z.number().int().positive(),
  seq: z.number().int().positive(),
  batch: z.number().int().positive(),
  minTokensPerExpert: z.number().int().nonnegative(),
  modules: z.array(
    z.object({
      tensor: z.string(),
      name: z.string().regex(/^[\w.-]+$/),
      bits: z.number().int(),
      groupSize: z.union([z.literal('channel'), z.number().int().positive()]),
      symmetric: z.boolean(),
      damp: z.number(),
      blockSize: z.number().int().positive(),
      actOrder: z.boolean(),
    }),
  ),
});

const job = Job.parse(JSON.parse(readFileSync(process.argv[2], 'utf8')));
const weights = loadModel(job.proxy);
const corpus = new Uint8Array(readFileSync(job.text));
const cal = await captureCalibration(new ProxyModel(weights), corpus, { tokens: job.tokens, seq: job.seq, batch: job.batch, minTokensPerExpert: job.minTokensPerExpert });
const byTensor = new Map(proxyModules(weights.config).map((m) => [m.tensor, m]));
for (const m of job.modules) {
  const module = byTensor.get(m.tensor);
  const w = weights.tensors.get(m.tensor);
  if (!module || !module.calibration || !w) throw new RangeError(`no calibrated module ${m.tensor}`);
  const stats = cal.stats.get(siteKey(module.calibration));
  if (!stats) throw new RangeError(`no statistics for ${m.tensor}`);
  const g = await gptqQuantize(w, module.outFeatures, module.inFeatures, stats, m);
  writeFileSync(`${job.dir}/${m.name}.codes`, g.codes);
}
writeFileSync(`${job.dir}/calibration.json`, JSON.stringify({ routedCounts: cal.routedCounts, added: cal.coverage.reduce((s, c) => s + c.added, 0) }));
