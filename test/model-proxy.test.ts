import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBrown } from '../science/corpus/brown.js';
import { evaluateModel, type EvalProgress } from '../science/evaluation/evaluate.js';
import { unigramBitsPerByte } from '../science/evaluation/unigram.js';
import { evenWindows } from '../science/evaluation/windows.js';
import { PROXY_DIR, proxy } from './helpers/proxy.js';

interface Reference {
  input: number[];
  logits_rows: number[];
  logits: number[][];
  expert_counts: number[][];
}

test('the TypeScript forward pass reproduces torch logits and routing', async (t) => {
  const ref = JSON.parse(readFileSync(join(PROXY_DIR, 'reference-logits.json'), 'utf8')) as Reference;
  const { model } = proxy();
  const { logits, expertCounts } = await model.forward(Int32Array.from(ref.input), 1, ref.input.length);
  let maxErr = 0;
  ref.logits_rows.forEach((row, i) => ref.logits[i].forEach((v, j) => (maxErr = Math.max(maxErr, Math.abs(logits[row * 256 + j] - v)))));
  t.true(maxErr < 1e-3, `max |Δlogit| ${maxErr}`);
  t.deepEqual(expertCounts, ref.expert_counts);
});

test('the proxy is a real language model: far below the unigram floor, with uneven routing', async (t) => {
  const brown = loadBrown();
  const unigram = unigramBitsPerByte(brown.train, brown.heldOut);
  const metrics = await evaluateModel(proxy().model, evenWindows(brown.heldOut, 128, 8192));
  t.log(`held-out bits/byte ${metrics.bitsPerByte.toFixed(3)} vs unigram ${unigram.toFixed(3)}; top-1 ${(100 * metrics.top1).toFixed(1)}%`);
  t.true(unigram > 4.2 && unigram < 4.8, `unigram ${unigram}`);
  t.true(metrics.bitsPerByte < 0.6 * unigram, 'at least 40% below the unigram model');
  t.true(metrics.top1 > 0.45);
  const ratios = metrics.expertFrequency.map((shares) => Math.max(...shares) / Math.max(Math.min(...shares), 1e-9));
  t.log(`max/min routing share per layer: ${ratios.map((r) => r.toFixed(2)).join(' ')}`);
  t.true(ratios.every((r) => r > 1.5), 'every layer routes unevenly');
  t.true(ratios.some((r) => r > 3), 'some layer strongly prefers a few experts');
  for (const shares of metrics.expertFrequency) {
    t.true(shares.every((s) => s > 0), 'no expert is dead');
    t.true(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  }
});

test('evaluation is deterministic', async (t) => {
  const windows = evenWindows(loadBrown().heldOut, 128, 2048);
  const a = await evaluateModel(proxy().model, windows);
  const b = await evaluateModel(proxy().model, windows);
  t.deepEqual(a, b);
});

test('an interrupted evaluation resumed from its checkpoint gives the same metrics; a foreign checkpoint is ignored', async (t) => {
  const windows = evenWindows(loadBrown().heldOut, 128, 4096);
  const full = await evaluateModel(proxy().model, windows, { batch: 8 });
  let checkpoint: EvalProgress | undefined;
  await evaluateModel(proxy().model, windows, { batch: 8, onBatch: (p) => (checkpoint ??= p) });
  t.is(checkpoint!.nextWindow, 8);
  const resumed = await evaluateModel(proxy().model, windows, { batch: 8, resume: checkpoint });
  t.is(resumed.bitsPerByte, full.bitsPerByte);
  t.is(resumed.top1, full.top1);
  t.deepEqual(resumed.expertFrequency, full.expertFrequency);
  const foreign = { ...checkpoint!, counts: [[1, 2, 3]] };
  t.deepEqual(await evaluateModel(proxy().model, windows, { batch: 8, resume: foreign }), full);
});
