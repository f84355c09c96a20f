import test from 'ava';
import { baselineFindings } from '../science/baselines/findings.js';
import type { BaselineRow } from '../science/baselines/table.js';

function row(recipe: string, top1: number, kl: number, gb = 60, fits = true): BaselineRow {
  return {
    recipe,
    bitsPerByte: 2,
    top1,
    relativeAccuracyLoss: (0.6 - top1) / 0.6,
    klBitsPerByte: kl,
    proxyBytes: 1,
    targetGbPerGpu: gb,
    targetFits: fits,
    targetViolations: fits ? [] : ['does-not-fit'],
    targetNotServable: recipe.startsWith('research-') ? ['vllm.moe.one-scheme-per-layer'] : [],
    heldOutBytes: 32768,
    calibrationBytes: 8192,
  };
}

const bf16 = row('bf16', 0.6, 0, 238, false);

test('the orders are read from the numbers: a top-1 order that differs from KL is said, with its size against the noise', (t) => {
  const text = baselineFindings([
    bf16,
    row('w4a16-g128-rtn', 0.5877, 0.0113, 64.9),
    row('w4a16-g128-gptq', 0.588, 0.004, 64.9),
    row('w4a16-g128-awq', 0.5871, 0.01, 65.2),
    row('w2a16-g64-rtn', 0.54, 0.3),
    row('w2a16-g64-gptq', 0.58, 0.09),
    row('w2a16-g64-awq', 0.57, 0.15),
  ]);
  t.regex(text, /KL orders the methods GPTQ < AWQ < RTN at every bit width; top-1 loss orders them GPTQ < RTN < AWQ at 4 bits, and GPTQ < AWQ < RTN at 2 bits\./);
  t.regex(text, /At 4 bits the top-1 figures of the three methods lie within 0\.09 points of each other, less than one standard error .* \(0\.27 points\)/);
  t.regex(text, /At 2 bits the methods keep this much of bf16's top-1 accuracy: GPTQ 97 %, AWQ 95 %, RTN 90 %\./);
  t.regex(text, /`bf16` needs 238\.0 GB per GPU and is rejected \(does-not-fit\)/);
});

test('one order everywhere is said once, and no noise sentence appears', (t) => {
  const text = baselineFindings([bf16, row('w3a16-g128-rtn', 0.55, 0.05), row('w3a16-g128-gptq', 0.58, 0.01), row('w4a16-g128-rtn', 0.58, 0.01), row('w4a16-g128-gptq', 0.59, 0.004)]);
  t.regex(text, /KL orders the methods GPTQ < RTN at every bit width; top-1 loss orders them GPTQ < RTN at every bit width\./);
  t.notRegex(text, /standard error/);
});

test('mixed recipes are compared with uniform 4-bit in the direction the numbers go', (t) => {
  const text = baselineFindings([
    bf16,
    row('w4a16-g128-rtn', 0.5877, 0.0113, 64.9),
    row('moe-layers-sensitive4-rest3', 0.5873, 0.0058, 55.9),
    row('moe-edges8-experts3-gptq', 0.5862, 0.0214, 65.1),
    row('research-moe-hot4-cold3', 0.5873, 0.0058, 55.8),
  ]);
  t.regex(text, /`moe-layers-sensitive4-rest3`: 55\.9 GB\/GPU \(9\.0 GB less\), KL 5\.80e-3 \(lower\), top-1 loss [\d.]+ % \(higher\); fits; servable on vllm\. Attention int8 per channel/);
  t.regex(text, /`moe-edges8-experts3-gptq`: 65\.1 GB\/GPU \(0\.2 GB more\), KL 2\.14e-2 \(higher\)/);
  t.regex(text, /`research-moe-hot4-cold3`: .*; fits; not servable on vllm \(vllm\.moe\.one-scheme-per-layer\)\. Reference stack only/);
});
