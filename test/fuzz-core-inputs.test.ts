// Property-based bad input for the compression commands: mutated model configs, dangerous paths and
// malformed numbers. Each must exit 2 with one line and no stack, write nothing anywhere, delete
// nothing, and return within a time bound. Fixed seeds keep failures reproducible; run counts keep
// the file to about a minute on two cores.
import test from 'ava';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { modelDirWithConfig, PROXY_CONFIG } from './helpers/bad-models.js';
import { spawnCli } from './helpers/cli.js';
import { PROXY_DIR } from './helpers/proxy.js';
import { refusalProblem, tree } from './helpers/refusal.js';

const SEED = 20261130;
const RUNS = 25;
const MAX_MS = 20_000;

const work = mkdtempSync(join(tmpdir(), 'fuzz-core-'));
const cwd = join(work, 'cwd');
mkdirSync(cwd);
writeFileSync(join(cwd, 'precious'), 'user data');
const foreign = join(work, 'foreign');
mkdirSync(foreign);
writeFileSync(join(foreign, 'thesis.tex'), 'years of work');
const model = join(work, 'models', 'proxy');
modelDirWithConfig(model, readFileSync(join(PROXY_DIR, 'config.json'), 'utf8'));
const OUT = join(work, 'out');
test.after.always(() => rmSync(work, { recursive: true, force: true }));

/** Runs the CLI in the temp cwd and throws unless it is a clean refusal that changed no file. */
async function expectRefusal(args: string[]): Promise<void> {
  const before = tree(work);
  const r = await spawnCli(args, { cwd, timeoutMs: MAX_MS + 10_000 });
  const problem = refusalProblem(r, MAX_MS);
  if (problem) throw new Error(`${JSON.stringify(args).slice(0, 300)}: ${problem}`);
  const after = tree(work);
  if (after.join('\n') !== before.join('\n')) throw new Error(`${JSON.stringify(args).slice(0, 300)}: files changed: ${after.filter((f) => !before.includes(f)).join(', ')}`);
}

// ── model configs ──────────────────────────────────────────────────────────────────────────────
// Values as raw JSON text, each invalid for its field: JSON has no NaN, but 1e999 parses to Infinity.
const anyType = fc.constantFrom('null', 'true', 'false', '[]', '{}', '"NaN"', '"Infinity"', '"128"', '1e999', '-1e999');
const quoted = fc.string({ maxLength: 40 }).map((s) => JSON.stringify(s));
const badInt = fc.oneof(
  anyType,
  quoted,
  fc.integer({ min: -(2 ** 31), max: 0 }).map(String),
  fc.constantFrom('-0', '1.5', '127.25', '1e7', '1e9', '1e15', '1e300'),
  fc.integer({ min: 2 ** 20 + 1, max: Number.MAX_SAFE_INTEGER }).map(String),
);
const badPositiveFloat = fc.oneof(anyType, quoted, fc.constantFrom('0', '-1', '-1e-6', '1e300'));
const badBool = fc.oneof(fc.constantFrom('null', '0', '1', '"true"', '[]', '{}'), quoted);
const FIELDS: Record<string, fc.Arbitrary<string>> = {
  hidden_size: badInt,
  num_hidden_layers: badInt,
  num_attention_heads: badInt,
  num_key_value_heads: badInt,
  head_dim: badInt,
  num_experts: badInt,
  num_experts_per_tok: badInt,
  moe_intermediate_size: badInt,
  vocab_size: badInt,
  max_position_embeddings: badInt,
  rope_theta: badPositiveFloat,
  rms_norm_eps: fc.oneof(badPositiveFloat, fc.constant('2')),
  norm_topk_prob: badBool,
  tie_word_embeddings: fc.oneof(badBool, fc.constant('true')),
  model_type: fc.oneof(quoted.filter((s) => s !== '"evoquant_moe"'), fc.constantFrom('1', 'null')),
};
const fieldNames = Object.keys(FIELDS);

type Mutation = { kind: 'set'; field: string; json: string } | { kind: 'delete'; field: string } | { kind: 'proto'; json: string };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...fieldNames).chain((field) => FIELDS[field].map((json): Mutation => ({ kind: 'set', field, json }))) },
  { weight: 1, arbitrary: fc.constantFrom(...fieldNames).map((field): Mutation => ({ kind: 'delete', field })) },
  { weight: 1, arbitrary: fc.constantFrom('{}', '{"hidden_size": 1}', 'null', '[]').map((json): Mutation => ({ kind: 'proto', json })) },
);

function configText(mutations: Mutation[]): string {
  const fields = new Map<string, string>(Object.entries(PROXY_CONFIG).map(([k, v]) => [k, JSON.stringify(v)]));
  let proto: string | null = null;
  for (const m of mutations) {
    if (m.kind === 'set') fields.set(m.field, m.json);
    else if (m.kind === 'delete') fields.delete(m.field);
    else proto = m.json;
  }
  const entries = [...fields].map(([k, v]) => `${JSON.stringify(k)}: ${v}`);
  if (proto !== null) entries.splice(Math.floor(entries.length / 2), 0, `"__proto__": ${proto}`);
  return `{${entries.join(', ')}}`;
}

let dirs = 0;
test.serial('mutated model configs are refused by eval and quantize', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), async (mutations, quantize) => {
      const dir = modelDirWithConfig(join(work, 'configs', String(dirs++)), configText(mutations));
      await expectRefusal(quantize ? ['quantize', '--model', dir, '--recipe', 'builtin:w4a16-g128-rtn', '--out', OUT] : ['eval', '--model', dir, '--tokens', '256']);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  t.pass();
});

// ── paths ──────────────────────────────────────────────────────────────────────────────────────
const control = fc
  .tuple(fc.string({ maxLength: 8 }), fc.constantFrom('\n', '\r', '\t', '\x1b[31m', '\x07', '\x7f'), fc.string({ maxLength: 8 }))
  .map(([a, c, b]) => `${a}${c}${b}`);
const dangerousOut = fc.oneof(
  fc.constantFrom('', ' ', '/', '.', './', '..', '../..', '/..', homedir(), cwd, work, model, dirname(model), join(model, 'q'), join(model, '..', 'proxy')),
  fc.constantFrom('precious', 'precious/x', './precious/x/y', foreign, `${foreign}/../foreign`, '/proc/self', '/proc/x/y', '/sys/kernel/x', '/dev/null', '/dev/shm/../x'),
  fc.integer({ min: 1, max: 12 }).map((n) => '../'.repeat(n)),
  control,
  fc.integer({ min: 4097, max: 20_000 }).map((n) => 'a/'.repeat(Math.ceil(n / 2))),
  fc.integer({ min: 256, max: 2000 }).map((n) => 'x'.repeat(n)),
);
const dangerousInput = fc.oneof(
  fc.constantFrom('', '/', '/proc', '/proc/self', '/proc/self/mem', '/proc/self/status', '/proc/kcore', '/dev/null', '/dev/zero', 'precious', 'precious/x', cwd, work, 'constructor', '__proto__', 'toString', '..'),
  control,
  fc.integer({ min: 4097, max: 20_000 }).map((n) => 'b'.repeat(n)),
);
type PathCase = { kind: 'out'; out: string; force: boolean } | { kind: 'model'; cmd: 'eval' | 'quantize' | 'baselines' | 'compile'; path: string } | { kind: 'recipe'; path: string };
const pathCase: fc.Arbitrary<PathCase> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('out' as const), out: dangerousOut, force: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('model' as const), cmd: fc.constantFrom('eval' as const, 'quantize' as const, 'baselines' as const, 'compile' as const), path: dangerousInput }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('recipe' as const), path: dangerousInput.filter((p) => !p.startsWith('builtin:')) }) },
);

function pathArgs(c: PathCase): string[] {
  switch (c.kind) {
    case 'out':
      return ['quantize', '--model', model, '--recipe', 'builtin:w4a16-g128-rtn', '--out', c.out, ...(c.force ? ['--force'] : [])];
    case 'model':
      if (c.cmd === 'compile') return ['compile', '--model', c.path, '--hardware', 'a100-80gb', '--gpus', '1', '--recipe', 'builtin:bf16'];
      if (c.cmd === 'quantize') return ['quantize', '--model', c.path, '--recipe', 'builtin:bf16', '--out', OUT];
      return [c.cmd, '--model', c.path, '--tokens', '256'];
    case 'recipe':
      return ['compile', '--model', 'qwen3-30b-a3b', '--hardware', 'a100-80gb', '--gpus', '1', '--recipe', c.path];
  }
}

test.serial('dangerous or malformed paths are refused and nothing is written or deleted', async (t) => {
  await fc.assert(
    fc.asyncProperty(pathCase, async (c) => expectRefusal(pathArgs(c))),
    { numRuns: RUNS + 10, seed: SEED },
  );
  t.is(readFileSync(join(cwd, 'precious'), 'utf8'), 'user data');
  t.is(readFileSync(join(foreign, 'thesis.tex'), 'utf8'), 'years of work');
});

// ── numbers ────────────────────────────────────────────────────────────────────────────────────
const notDecimal = fc.oneof(
  fc.constantFrom('', ' 5', '5 ', '+5', '-1', '0', '00', '1.5', '1e9', '1e3', '0x10', '0b1', 'Infinity', 'NaN', '1_000', '９'),
  fc.string({ maxLength: 12 }).filter((s) => !/^[0-9]+$/.test(s) || /^0+$/.test(s)),
  fc.integer({ min: 17, max: 400 }).map((n) => '9'.repeat(n)),
);
type NumberCase = { flag: string; value: string };
const tooLarge: Array<[string, fc.Arbitrary<number>]> = [
  ['--tokens', fc.integer({ min: 306_305, max: Number.MAX_SAFE_INTEGER })],
  ['--calibration-tokens', fc.integer({ min: 5_773_697, max: Number.MAX_SAFE_INTEGER })],
  ['--gpus', fc.integer({ min: 4097, max: Number.MAX_SAFE_INTEGER })],
  ['--context', fc.integer({ min: 2 ** 24 + 1, max: Number.MAX_SAFE_INTEGER })],
  ['--batch', fc.integer({ min: 1_000_001, max: Number.MAX_SAFE_INTEGER })],
];
const numberCase: fc.Arbitrary<NumberCase> = fc.oneof(
  fc.record({ flag: fc.constantFrom('--tokens', '--calibration-tokens', '--gpus', '--tp', '--context', '--batch'), value: notDecimal }),
  fc.constantFrom(...tooLarge).chain(([flag, n]) => n.map((v) => ({ flag, value: String(v) }))),
);

function numberArgs(c: NumberCase): string[] {
  switch (c.flag) {
    case '--tokens':
      return ['eval', '--model', model, '--tokens', c.value];
    case '--calibration-tokens':
      return ['quantize', '--model', model, '--recipe', 'builtin:bf16', '--out', OUT, '--calibration-tokens', c.value];
    default: {
      const args = new Map([['--gpus', '2'], ['--tp', '2'], ['--context', '4096'], ['--batch', '1']]);
      args.set(c.flag, c.value);
      return ['compile', '--model', 'qwen3-30b-a3b', '--hardware', 'h100-80gb', '--recipe', 'builtin:bf16', ...[...args].flat()];
    }
  }
}

test.serial('malformed and out-of-range numbers are refused', async (t) => {
  await fc.assert(
    fc.asyncProperty(numberCase, async (c) => expectRefusal(numberArgs(c))),
    { numRuns: RUNS, seed: SEED },
  );
  t.pass();
});
