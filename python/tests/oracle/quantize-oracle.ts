// The TypeScript quantizers as an oracle for the torch executor's conformance tests
// (python/tests/test_quant_*.py): reads jobs (raw little-endian weights and Hessians written by
// the Python test), runs science/quantization's own rtn/gptq/fp8 on them and writes the codes,
// fp16 scale bits and zero points back as raw files for a bit-by-bit comparison.
// Usage: node --import tsx python/tests/oracle/quantize-oracle.ts JOBS.json
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { fp8Quantize } from '../../../science/quantization/fp8.js';
import { gptqQuantize } from '../../../science/quantization/gptq.js';
import type { GroupedCodes } from '../../../science/quantization/grid.js';
import { rtnQuantize } from '../../../science/quantization/rtn.js';

const GroupSize = z.union([z.literal('channel'), z.number().int().positive()]);
const Job = z.object({
  name: z.string().regex(/^[\w.-]+$/),
  kind: z.enum(['rtn', 'gptq', 'fp8']),
  weight: z.string(),
  out: z.number().int().positive(),
  in: z.number().int().positive(),
  bits: z.number().int(),
  groupSize: GroupSize,
  symmetric: z.boolean(),
  hessian: z.string().optional(),
  count: z.number().int().positive().optional(),
  damp: z.number().optional(),
  blockSize: z.number().int().positive().optional(),
  actOrder: z.boolean().optional(),
});
const Jobs = z.object({ dir: z.string(), jobs: z.array(Job) });

const bytes = (a: Uint8Array | Uint16Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function readRaw(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}

async function run(job: z.infer<typeof Job>): Promise<GroupedCodes> {
  const w = new Float32Array(readRaw(job.weight));
  if (w.length !== job.out * job.in) throw new RangeError(`${job.name}: weight has ${w.length} values, expected ${job.out}x${job.in}`);
  if (job.kind === 'rtn') return rtnQuantize(w, job.out, job.in, { bits: job.bits, groupSize: job.groupSize, symmetric: job.symmetric });
  if (job.kind === 'fp8') return fp8Quantize(w, job.out, job.in, job.groupSize);
  if (!job.hessian || !job.count) throw new RangeError(`${job.name}: gptq needs hessian and count`);
  const hessian = new Float64Array(readRaw(job.hessian));
  return gptqQuantize(w, job.out, job.in, { hessian, count: job.count }, {
    bits: job.bits,
    groupSize: job.groupSize,
    symmetric: job.symmetric,
    damp: job.damp ?? 0.01,
    blockSize: job.blockSize ?? 128,
    actOrder: job.actOrder ?? false,
  });
}

const { dir, jobs } = Jobs.parse(JSON.parse(readFileSync(process.argv[2], 'utf8')));
for (const job of jobs) {
  const g = await run(job);
  writeFileSync(`${dir}/${job.name}.codes`, g.codes);
  writeFileSync(`${dir}/${job.name}.scales`, bytes(g.scales));
  if (g.zeros) writeFileSync(`${dir}/${job.name}.zeros`, g.zeros);
}
