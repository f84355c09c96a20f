// Regression tests for the compression commands' bad input (issue 6, section 3): every case exits 2
// with one line, prints no stack, writes nothing, deletes nothing, and returns quickly.
import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { modelDirWith, modelDirWithConfig, modelDirWithWeights, PROXY_CONFIG, rawSafetensors } from './helpers/bad-models.js';
import { inBatches, spawnCli, type CliRun } from './helpers/cli.js';
import { assertRefused, refusalProblem, tree } from './helpers/refusal.js';
import { PROXY_DIR } from './helpers/proxy.js';

const work = mkdtempSync(join(tmpdir(), 'cli-bad-core-'));
const cwd = join(work, 'cwd');
mkdirSync(cwd);
writeFileSync(join(cwd, 'precious'), 'user data');
test.after.always(() => rmSync(work, { recursive: true, force: true }));

type Case = [name: string, args: string[], message: RegExp];

async function refuseAll(t: ExecutionContext, cases: Case[], maxMs?: number): Promise<void> {
  const results = await inBatches(cases.map(([, args]) => () => spawnCli(args, { cwd, timeoutMs: 60_000 })));
  cases.forEach(([name, , message], i) => assertRefused(t, name, results[i], message, maxMs));
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

test.serial('--out that would lose data is refused before any work, with or without --force', async (t) => {
  // A copy of the proxy, so that a failure of this test cannot damage the committed one.
  const model = join(work, 'models', 'proxy');
  modelDirWithConfig(model, readFileSync(join(PROXY_DIR, 'config.json'), 'utf8'), 'copy');
  writeFileSync(join(model, 'notes.txt'), 'beside the model');
  const foreign = join(work, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'thesis.tex'), 'years of work');
  const before = tree(work);
  const weights = sha(join(model, 'model.safetensors'));
  const q = (out: string, ...more: string[]): string[] => ['quantize', '--model', model, '--recipe', 'builtin:w4a16-g128-rtn', '--out', out, ...more];
  await refuseAll(
    t,
    [
      ['empty --out', q(''), /--out: is empty/],
      ['empty --out --force', q('', '--force'), /--out: is empty/],
      ['root', q('/', '--force'), /--out: \/ is the filesystem root/],
      ['current directory', q('.', '--force'), /is the current directory/],
      ['parent of cwd', q('..', '--force'), /contains the current directory/],
      ['home', q(homedir(), '--force'), /is the home directory|contains the current directory/],
      ['the model dir', q(model, '--force'), /is the model directory \(--model\)/],
      ['an ancestor of the model dir', q(dirname(model), '--force'), /contains the model directory/],
      ['inside the model dir', q(join(model, 'w4'), '--force'), /is inside the model directory/],
      ['a foreign non-empty dir', q(foreign, '--force'), /was not written by evoquant/],
      ['under /proc', q('/proc/evoquant/out'), /under \/proc, a kernel filesystem/],
      ['under a regular file', q(join(cwd, 'precious', 'out')), /precious is a file, not a directory/],
      ['a regular file', q(join(cwd, 'precious'), '--force'), /exists and is not a directory/],
    ],
    5_000,
  );
  t.deepEqual(tree(work), before, 'nothing written or removed');
  t.is(sha(join(model, 'model.safetensors')), weights);
  t.is(readFileSync(join(cwd, 'precious'), 'utf8'), 'user data');
});

test.serial('a model dir whose config disagrees with its tensors is refused by eval and quantize', async (t) => {
  const m = (name: string, changes: Record<string, unknown>): string => modelDirWith(join(work, 'bad', name), changes);
  const dirs: Array<[string, string, RegExp]> = [
    ['layers 1e7', m('layers-1e7', { num_hidden_layers: 1e7 }), /num_hidden_layers: .*(1024|too big)/i],
    ['layers 1e15', m('layers-1e15', { num_hidden_layers: 1e15 }), /num_hidden_layers/],
    ['experts 1e9', m('experts-1e9', { num_experts: 1e9 }), /num_experts/],
    ['layers × experts', m('expert-layers', { num_hidden_layers: 1024, num_experts: 4096 }), /num_hidden_layers × num_experts/],
    ['a missing tensor', m('missing-tensor', { num_hidden_layers: 5 }), /lacks float tensor model\.layers\.4\./],
    ['a size mismatch', m('size-mismatch', { moe_intermediate_size: 128 }), /has 32768 elements, config\.json implies 16384/],
    ['vocab below the bytes', m('vocab-100', { vocab_size: 100 }), /vocab_size: must be at least 256/],
    ['window beyond max positions', m('positions-64', { max_position_embeddings: 64 }), /max_position_embeddings 64 is below the 128-byte evaluation window/],
    ['a string for a number', m('string', { hidden_size: '128' }), /hidden_size/],
    ['a __proto__ key', modelDirWithConfig(join(work, 'bad', 'proto'), JSON.stringify(PROXY_CONFIG).replace('{', '{"__proto__": {"hidden_size": 1},')), /__proto__/],
    ['config.json 2 MiB', modelDirWithConfig(join(work, 'bad', 'huge-config'), JSON.stringify({ ...PROXY_CONFIG, pad: 'x'.repeat(2 * 1024 * 1024) })), /more than the 1\.0 MiB allowed/],
    ['a header entry without shape', modelDirWithWeights(join(work, 'bad', 'no-shape'), rawSafetensors({ 'lm_head.weight': { dtype: 'BF16', data_offsets: [0, 8] } }, 8)), /tensor lm_head\.weight: shape/],
    ['a header entry without data_offsets', modelDirWithWeights(join(work, 'bad', 'no-offsets'), rawSafetensors({ 'lm_head.weight': { dtype: 'BF16', shape: [4] } }, 8)), /tensor lm_head\.weight: data_offsets/],
    ['a file with no tensors', modelDirWithWeights(join(work, 'bad', 'no-tensors'), rawSafetensors({ __metadata__: { format: 'pt' } })), /holds no tensors/],
  ];
  const configDir = join(work, 'bad', 'config-is-dir');
  mkdirSync(join(configDir, 'config.json'), { recursive: true });
  dirs.push(['config.json a directory', configDir, /config\.json is a directory/]);
  const weightsDir = join(work, 'bad', 'weights-is-dir');
  mkdirSync(join(weightsDir, 'model.safetensors'), { recursive: true });
  writeFileSync(join(weightsDir, 'config.json'), JSON.stringify(PROXY_CONFIG));
  dirs.push(['model.safetensors a directory', weightsDir, /model\.safetensors is a directory/]);
  // Both commands load through the same checks; schema bounds are exercised through eval alone.
  const schemaOnly = new Set(['layers 1e7', 'layers 1e15', 'experts 1e9', 'layers × experts', 'a string for a number', 'a __proto__ key', 'config.json 2 MiB']);
  const cases: Case[] = dirs.flatMap(([name, dir, message]): Case[] => [
    [`eval: ${name}`, ['eval', '--model', dir, '--tokens', '256'], message],
    ...(schemaOnly.has(name)
      ? []
      : [[`quantize: ${name}`, ['quantize', '--model', dir, '--recipe', 'builtin:w4a16-g128-rtn', '--out', join(work, 'outs', name.replace(/\W+/g, '-'))], message] as Case]),
  ]);
  cases.push(['eval: baseline is broken', ['eval', '--model', PROXY_DIR, '--baseline', join(work, 'bad', 'missing-tensor'), '--tokens', '256'], /lacks float tensor/]);
  await refuseAll(t, cases, 10_000);
  t.deepEqual(readdirSync(work).filter((f) => f === 'outs'), [], 'no --out was created');
});

test.serial('numbers beyond their split, non-decimal numbers, prototype names and directories as files are refused', async (t) => {
  const c = (...more: string[]): string[] => ['compile', '--model', 'qwen3-30b-a3b', '--hardware', 'a100-80gb', '--gpus', '1', '--recipe', 'builtin:bf16', ...more];
  await refuseAll(t, [
    ['eval --tokens beyond the split', ['eval', '--model', PROXY_DIR, '--tokens', '1000000000'], /--tokens: 1000000000 exceeds the held-out split \(\d+ bytes: at most \d+ predicted bytes/],
    ['eval --tokens 1e9', ['eval', '--model', PROXY_DIR, '--tokens', '1e9'], /--tokens: expected a positive integer, got "1e9"/],
    ['baselines --tokens beyond the split', ['baselines', '--tokens', '999999999'], /--tokens: 999999999 exceeds the held-out split/],
    ['quantize --calibration-tokens beyond the split', ['quantize', '--model', PROXY_DIR, '--recipe', 'builtin:bf16', '--out', join(work, 'never'), '--calibration-tokens', '1000000000'], /--calibration-tokens: 1000000000 exceeds the training split \(\d+ bytes: at most \d+ tokens in 128-byte windows\)/],
    ['quantize --calibration-tokens 1e9', ['quantize', '--model', PROXY_DIR, '--recipe', 'builtin:bf16', '--out', join(work, 'never'), '--calibration-tokens', '1e9'], /expected a positive integer/],
    ['compile --gpus 0x10', c('--tp', '0x10'), /--tp: expected a positive integer, got "0x10"/],
    ['compile --context beyond any model', ['compile', '--model', 'qwen3-30b-a3b', '--hardware', 'a100-80gb', '--gpus', '1', '--recipe', 'builtin:bf16', '--context', '99999999999'], /contextLength/],
    ['compile --model constructor', ['compile', '--model', 'constructor', '--hardware', 'a100-80gb', '--gpus', '1', '--recipe', 'builtin:bf16'], /unknown model "constructor"/],
    ['compile --model __proto__', ['compile', '--model', '__proto__', '--hardware', 'a100-80gb', '--gpus', '1', '--recipe', 'builtin:bf16'], /unknown model "__proto__"/],
    ['compile --recipe builtin:constructor', c().map((a) => (a === 'builtin:bf16' ? 'builtin:constructor' : a)), /unknown builtin "constructor"/],
    ['eval --model constructor', ['eval', '--model', 'constructor'], /--model: constructor does not exist/],
    ['compile --recipe a directory', c().map((a) => (a === 'builtin:bf16' ? work : a)), /is a directory, not a file/],
    ['quantize --recipe a directory', ['quantize', '--model', PROXY_DIR, '--recipe', work, '--out', join(work, 'never')], /is a directory, not a file/],
    ['compile --model /proc/self/mem', ['compile', '--model', '/proc/self/mem', '--hardware', 'a100-80gb', '--gpus', '1', '--recipe', 'builtin:bf16'], /\/proc\/self\/mem cannot be read \(EIO\)/],
    ['compile --model /dev/zero', ['compile', '--model', '/dev/zero', '--hardware', 'a100-80gb', '--gpus', '1', '--recipe', 'builtin:bf16'], /\/dev\/zero is not a regular file/],
    ['compile --recipe /proc/self/mem', c().map((a) => (a === 'builtin:bf16' ? '/proc/self/mem' : a)), /recipe: \/proc\/self\/mem cannot be read/],
    ['compile --model a directory without config', ['compile', '--model', work, '--hardware', 'a100-80gb', '--gpus', '1', '--recipe', 'builtin:bf16'], /config\.json does not exist/],
  ]);
  t.false(readdirSync(work).includes('never'));
});

test.serial('--force replaces only what evoquant wrote; a quantized model is not quantized again', async (t) => {
  const out = join(work, 'q');
  mkdirSync(out); // an empty directory is filled without --force
  const q = (...more: string[]): Promise<CliRun> =>
    spawnCli(['quantize', '--model', PROXY_DIR, '--recipe', 'builtin:w4a16-g128-rtn', '--out', out, '--calibration-tokens', '256', ...more], { cwd });
  const first = await q();
  t.is(first.code, 0, first.stderr);
  const marker = JSON.parse(readFileSync(join(out, '.evoquant-output.json'), 'utf8')) as { tool: string; what: string };
  t.like(marker, { tool: 'evoquant', what: 'quantized-model' });
  assertRefused(t, 'again without --force', await q(), /already exists \(pass --force/);
  writeFileSync(join(out, 'stale.txt'), 'from the first run');
  const again = await q('--force');
  t.is(again.code, 0, again.stderr);
  t.deepEqual(readdirSync(out).sort(), ['.evoquant-output.json', 'config.json', 'model.safetensors'], 'the old output was replaced whole');
  t.deepEqual(readdirSync(work).filter((f) => f.startsWith('.')), [], 'no temporary directory is left');
  assertRefused(
    t,
    'quantize a quantized model',
    await spawnCli(['quantize', '--model', out, '--recipe', 'builtin:w4a16-g128-rtn', '--out', join(work, 'q2')], { cwd }),
    /is already quantized \(recipe w4a16-g128-rtn\)/,
  );
  const broken = join(work, 'q-broken');
  modelDirWithConfig(broken, readFileSync(join(out, 'config.json'), 'utf8').replace('"out_features": 128', '"out_features": 129'), 'link');
  rmSync(join(broken, 'model.safetensors'));
  writeFileSync(join(broken, 'model.safetensors'), readFileSync(join(out, 'model.safetensors')));
  assertRefused(t, 'eval: a quantized module of the wrong shape', await spawnCli(['eval', '--model', broken, '--tokens', '256'], { cwd }), /quantization_config\.modules\..* is \[129, \d+\], config\.json implies \[128, \d+\]/);
});
