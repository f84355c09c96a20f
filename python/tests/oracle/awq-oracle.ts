// science/quantization's AWQ and AutoRound as an oracle for the torch executor's conformance tests
// (python/tests/test_quant_awq.py, test_quant_autoround.py): reads jobs (raw little-endian weights,
// samples, activation means and Hessians written by the Python test), runs awq.ts / autoround.ts
// on them and writes codes, fp16 scale bits, zero points, channel scales and losses back as raw files.
// Usage: node --import tsx python/tests/oracle/awq-oracle.ts JOBS.json
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { autoRoundQuantize } from '../../../science/quantization/autoround.js';
import { awqQuantize, awqSearchSharedScales, type AwqMember } from '../../../science/quantization/awq.js';
import type { GroupedCodes } from '../../../science/quantization/grid.js';

const GroupSize = z.union([z.literal('channel'), z.number().int().positive()]);
const Grid = { out: z.number().int().positive(), in: z.number().int().positive(), bits: z.number().int(), groupSize: GroupSize, symmetric: z.boolean() };
const Name = z.string().regex(/^[\w.-]+$/);
const AwqJob = z.object({
  name: Name, kind: z.literal('awq'), weight: z.string(), meanAbs: z.string(), samples: z.string(), rows: z.number().int().nonnegative(), ...Grid,
  scaleGrid: z.number().int().positive(), clip: z.boolean(), clipGrid: z.number().int().min(2), maxShrink: z.number(), channelScales: z.string().optional(),
});
const SharedJob = z.object({
  name: Name, kind: z.literal('awq-shared'), meanAbs: z.string(), in: z.number().int().positive(), scaleGrid: z.number().int().positive(),
  members: z.array(z.object({ weight: z.string(), samples: z.string(), rows: z.number().int().nonnegative(), out: Grid.out, bits: Grid.bits, groupSize: GroupSize, symmetric: z.boolean() })),
});
const AutoRoundJob = z.object({
  name: Name, kind: z.literal('autoround'), weight: z.string(), hessian: z.string(), count: z.number().int().positive(), ...Grid,
  iterations: z.number().int().nonnegative(), learningRate: z.number().positive(), minMax: z.boolean(),
});
const Jobs = z.object({ dir: z.string(), jobs: z.array(z.discriminatedUnion('kind', [AwqJob, SharedJob, AutoRoundJob])) });

const bytes = (a: Uint8Array | Uint16Array | Float64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function readRaw(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}

function writeCodes(dir: string, name: string, g: GroupedCodes): void {
  writeFileSync(`${dir}/${name}.codes`, g.codes);
  writeFileSync(`${dir}/${name}.scales`, bytes(g.scales));
  if (g.zeros) writeFileSync(`${dir}/${name}.zeros`, g.zeros);
}

const { dir, jobs } = Jobs.parse(JSON.parse(readFileSync(process.argv[2], 'utf8')));
for (const job of jobs) {
  if (job.kind === 'awq') {
    const w = new Float32Array(readRaw(job.weight));
    const calib = { meanAbs: new Float64Array(readRaw(job.meanAbs)), samples: new Float32Array(readRaw(job.samples)), rows: job.rows };
    const channelScales = job.channelScales ? new Uint16Array(readRaw(job.channelScales)) : undefined;
    const r = await awqQuantize(w, job.out, job.in, calib, { bits: job.bits, groupSize: job.groupSize, symmetric: job.symmetric, scaleGrid: job.scaleGrid, clip: job.clip, clipGrid: job.clipGrid, maxShrink: job.maxShrink, channelScales });
    writeCodes(dir, job.name, r);
    writeFileSync(`${dir}/${job.name}.s`, bytes(r.channelScales));
    writeFileSync(`${dir}/${job.name}.losses`, bytes(Float64Array.of(r.alpha, r.scaleLoss, r.finalLoss)));
  } else if (job.kind === 'awq-shared') {
    const members: AwqMember[] = job.members.map((m) => ({ w: new Float32Array(readRaw(m.weight)), outFeatures: m.out, samples: new Float32Array(readRaw(m.samples)), rows: m.rows, bits: m.bits, groupSize: m.groupSize, symmetric: m.symmetric }));
    const r = await awqSearchSharedScales(members, new Float64Array(readRaw(job.meanAbs)), job.scaleGrid);
    writeFileSync(`${dir}/${job.name}.s`, bytes(r.channelScales));
    writeFileSync(`${dir}/${job.name}.losses`, bytes(Float64Array.from([r.alpha, ...r.losses])));
  } else {
    const w = new Float32Array(readRaw(job.weight));
    const r = autoRoundQuantize(w, job.out, job.in, { hessian: new Float64Array(readRaw(job.hessian)), count: job.count }, { bits: job.bits, groupSize: job.groupSize, symmetric: job.symmetric, iterations: job.iterations, learningRate: job.learningRate, minMax: job.minMax });
    writeCodes(dir, job.name, r);
    writeFileSync(`${dir}/${job.name}.losses`, bytes(Float64Array.from([r.bestStep, ...r.losses])));
  }
}
