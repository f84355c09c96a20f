// After training: held-out bits/byte against the unigram floor, top-1 accuracy and the routing
// histogram, printed and saved next to the weights (artifacts/proxy/training-report.json).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../compression/quantized-format.js';
import { loadBrown } from '../corpus/brown.js';
import { evaluateModel } from '../evaluation/evaluate.js';
import { unigramBitsPerByte } from '../evaluation/unigram.js';
import { evenWindows } from '../evaluation/windows.js';
import { ProxyModel } from '../model/forward.js';

const dir = process.argv[2] ?? 'artifacts/proxy';
const brown = loadBrown();
const windows = evenWindows(brown.heldOut, 128, 65536);
const model = new ProxyModel(loadModel(dir));
const metrics = await evaluateModel(model, windows);
const unigram = unigramBitsPerByte(brown.train, brown.heldOut);
const report = {
  heldOutBytes: metrics.tokens,
  bitsPerByte: metrics.bitsPerByte,
  unigramBitsPerByte: unigram,
  top1: metrics.top1,
  expertFrequency: metrics.expertFrequency,
};
writeFileSync(join(dir, 'training-report.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(`held-out: ${metrics.bitsPerByte.toFixed(3)} bits/byte (unigram byte model ${unigram.toFixed(3)}), top-1 ${(100 * metrics.top1).toFixed(1)}% over ${metrics.tokens} bytes`);
console.log('routing share per expert (each layer sums to 1):');
metrics.expertFrequency.forEach((layer, l) => console.log(`  layer ${l}: ${layer.map((f) => f.toFixed(3)).join(' ')}`));
