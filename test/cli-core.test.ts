// The compression commands as a person runs them: documented output, exit 2 with one line on bad input, no partial writes.
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompileReport } from '../schema/compile-report.js';
import { runCli } from './helpers/cli.js';
import { PROXY_DIR } from './helpers/proxy.js';

const work = mkdtempSync(join(tmpdir(), 'cli-core-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

test('compile reports Qwen3-235B-A22B on 2×A100-80GB as JSON', (t) => {
  const r = runCli(['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', '2', '--tp', '2', '--recipe', 'builtin:w4a16-g128', '--json']);
  t.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as CompileReport;
  t.true(report.fits);
  t.true(Math.abs(report.parameters.total / 235.1e9 - 1) < 0.01);
  t.true(Math.abs(report.weightBytes.bf16Total / 470e9 - 1) < 0.01);
  t.deepEqual(report.violations, []);
  const bf16 = JSON.parse(runCli(['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', '2', '--recipe', 'builtin:bf16', '--json']).stdout) as CompileReport;
  t.false(bf16.fits);
  t.deepEqual(bf16.violations.map((v) => v.code), ['does-not-fit']);
});

const badInputs: Array<[string, string[], RegExp]> = [
  ['unknown model', ['compile', '--model', 'qwen9-1t', '--hardware', 'a100-80gb', '--gpus', '2', '--recipe', 'builtin:bf16'], /model/],
  ['unknown hardware', ['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-90gb', '--gpus', '2', '--recipe', 'builtin:bf16'], /hardware: unknown profile "a100-90gb"/],
  ['non-numeric gpus', ['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', 'two', '--recipe', 'builtin:bf16'], /--gpus: expected a positive integer/],
  ['unknown builtin', ['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', '2', '--recipe', 'builtin:w5'], /unknown builtin "w5"/],
  ['missing recipe file', ['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', '2', '--recipe', '/nope.json'], /recipe: file \/nope.json does not exist/],
  ['missing model dir', ['eval', '--model', '/nope'], /--model: \/nope does not exist/],
];
for (const [name, args, message] of badInputs) {
  test(`bad input exits 2 with one line: ${name}`, (t) => {
    const r = runCli(args);
    t.is(r.status, 2);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
}

test('quantize refuses a malformed recipe, bits out of range or an existing output, writing nothing', (t) => {
  const bits = join(work, 'bits5.json');
  writeFileSync(bits, JSON.stringify({ name: 'x', default: { bits: 5 } }));
  const malformed = join(work, 'broken.json');
  writeFileSync(malformed, '{"name": "x", "default": ');
  const before = readdirSync(work).sort();
  for (const [recipe, message] of [
    [bits, /recipe\.default\.bits: bits must be one of 2, 3, 4, 8 or 16/],
    [malformed, /is not valid JSON/],
  ] as const) {
    const r = runCli(['quantize', '--model', PROXY_DIR, '--recipe', recipe, '--out', join(work, 'out')]);
    t.is(r.status, 2);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 1);
  }
  const r = runCli(['quantize', '--model', PROXY_DIR, '--recipe', 'builtin:w4a16-g128-rtn', '--out', work]);
  t.is(r.status, 2);
  t.regex(r.stderr, /already exists/);
  t.deepEqual(readdirSync(work).sort(), before, 'nothing written');
});

test('quantize then eval: a quantized model on disk measures against its baseline', (t) => {
  const out = join(work, 'w4-gptq');
  const q = runCli(['quantize', '--model', PROXY_DIR, '--recipe', 'builtin:w4a16-g128-gptq', '--out', out, '--calibration-tokens', '1024', '--json']);
  t.is(q.status, 0, q.stderr);
  t.true(existsSync(join(out, 'model.safetensors')));
  const quantized = JSON.parse(q.stdout) as { bytes: number; recipe: string };
  t.is(quantized.recipe, 'w4a16-g128-gptq');
  const e = runCli(['eval', '--model', out, '--baseline', PROXY_DIR, '--tokens', '2048', '--json']);
  t.is(e.status, 0, e.stderr);
  const m = JSON.parse(e.stdout) as { bitsPerByte: number; top1: number; klBitsPerByte: number; relativeAccuracyLoss: number; unigramBitsPerByte: number };
  t.true(m.klBitsPerByte > 0 && m.klBitsPerByte < 0.05, `KL ${m.klBitsPerByte}`);
  t.true(m.bitsPerByte < m.unigramBitsPerByte);
  t.true(Math.abs(m.relativeAccuracyLoss) < 0.05);
});
