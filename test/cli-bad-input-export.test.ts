// evoquant export's bad input: every case exits 2 with one line, prints no stack, writes nothing,
// deletes nothing, and returns quickly; a good export writes an evoquant-marked directory.
import test, { type ExecutionContext } from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelDirWithConfig } from './helpers/bad-models.js';
import { inBatches, spawnCli, type CliRun } from './helpers/cli.js';
import { PROXY_DIR } from './helpers/proxy.js';
import { quantizedProxyDir } from './helpers/quantized-proxy.js';
import { assertRefused, refusalProblem, tree } from './helpers/refusal.js';

const work = mkdtempSync(join(tmpdir(), 'cli-bad-export-'));
const cwd = join(work, 'cwd');
mkdirSync(cwd);
writeFileSync(join(cwd, 'precious'), 'user data');
test.after.always(() => rmSync(work, { recursive: true, force: true }));

type Case = [name: string, args: string[], message: RegExp];

async function refuseAll(t: ExecutionContext, cases: Case[]): Promise<void> {
  const results = await inBatches(cases.map(([, args]) => () => spawnCli(args, { cwd, timeoutMs: 60_000 })));
  cases.forEach(([name, , message], i) => assertRefused(t, name, results[i], message));
}

// Asymmetric int4 g128 RTN: vLLM serves it from compressed-tensors, not from a GPTQ checkpoint.
const ASYM = { name: 'cli-export-asym', default: { bits: 4 as const, groupSize: 128 as const }, roles: { router: { bits: 16 as const }, embeddings: { bits: 16 as const }, lm_head: { bits: 16 as const } } };

test.serial('bad inputs to export are refused before anything is written', async (t) => {
  const quantized = await quantizedProxyDir(join(work, 'models', 'asym'), ASYM);
  const notModel = join(work, 'not-a-model');
  mkdirSync(notModel);
  writeFileSync(join(notModel, 'notes.txt'), 'hello');
  const protoModel = modelDirWithConfig(join(work, 'proto-model'), readFileSync(join(quantized, 'config.json'), 'utf8').replace('{', '{"__proto__": {"x": 1},'));
  const foreign = join(work, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'thesis.tex'), 'years of work');
  const before = tree(work);
  const out = join(work, 'out');
  const e = (...args: string[]): string[] => ['export', ...args];
  const ok = (...more: string[]): string[] => e('--quantized', quantized, '--format', 'llmcompressor', '--out', out, ...more);
  await refuseAll(t, [
    ['missing --quantized dir', e('--quantized', join(work, 'nope'), '--format', 'gptqmodel', '--out', out), /--quantized: .*nope does not exist/],
    ['--quantized a file', e('--quantized', join(cwd, 'precious'), '--format', 'gptqmodel', '--out', out), /--quantized: .*precious is not a directory/],
    ['--quantized not a model', e('--quantized', notModel, '--format', 'gptqmodel', '--out', out), /model: .*config\.json/],
    ['--quantized /', e('--quantized', '/', '--format', 'gptqmodel', '--out', out), /--out: .* is inside the quantized model directory/],
    ['an unquantized model', e('--quantized', PROXY_DIR, '--format', 'gptqmodel', '--out', out), /is not quantized \(config\.json has no quantization_config\)/],
    ['a __proto__ key in config.json', e('--quantized', protoModel, '--format', 'gptqmodel', '--out', out), /__proto__/],
    ['unknown format', e('--quantized', quantized, '--format', 'onnx', '--out', out), /--format: unknown format "onnx"; format must be one of compressed-tensors, gptqmodel, llmcompressor, llama\.cpp/],
    ['format __proto__', e('--quantized', quantized, '--format', '__proto__', '--out', out), /--format: unknown format "__proto__"/],
    ['format constructor', e('--quantized', quantized, '--format', 'constructor', '--out', out), /--format: unknown format "constructor"/],
    ['missing --format', e('--quantized', quantized, '--out', out), /required option '--format <format>'/],
    ['--out a file', ok().map((a) => (a === out ? join(cwd, 'precious') : a)), /--out: .*precious exists and is not a directory/],
    ['--out a foreign directory', ok().map((a) => (a === out ? foreign : a)), /was not written by evoquant/],
    ['--out a foreign directory --force', ok('--force').map((a) => (a === out ? foreign : a)), /was not written by evoquant/],
    ['--out /', ok('--force').map((a) => (a === out ? '/' : a)), /--out: \/ is the filesystem root/],
    ['--out the quantized dir', ok('--force').map((a) => (a === out ? quantized : a)), /is the quantized model directory \(--quantized\)/],
    ['--out inside the quantized dir', ok().map((a) => (a === out ? join(quantized, 'x') : a)), /is inside the quantized model directory/],
    ['--stack __proto__', ok('--stack', '__proto__'), /unknown serving stack "__proto__"/],
    ['--stack reference', ok('--stack', 'reference'), /llmcompressor becomes a compressed-tensors checkpoint, which stack reference does not load/],
    ['--stack vllm for llama.cpp', e('--quantized', quantized, '--format', 'llama.cpp', '--out', out, '--stack', 'vllm'), /llama\.cpp becomes a gguf checkpoint, which stack vllm does not load/],
    ['--hardware __proto__', ok('--hardware', '__proto__'), /__proto__/],
    ['--gpus 0', ok('--gpus', '0'), /--gpus: expected a positive integer, got "0"/],
    ['not servable as gptqmodel', e('--quantized', quantized, '--format', 'gptqmodel', '--out', out), /export refused: recipe cli-export-asym is not servable on vllm 0\.33\.0: .*\[vllm\.checkpoint\.gptq; vllm\/model_executor\/layers\/quantization\/auto_gptq\.py\]/],
    ['not servable on llama.cpp', e('--quantized', quantized, '--format', 'llama.cpp', '--out', out), /not servable on llama\.cpp .*\[llama\.cpp\.kernels\.dense-linear; ggml\/src\/ggml-common\.h\]/],
  ]);
  t.deepEqual(tree(work), before, 'nothing written or removed');
});

test.serial('a servable export writes a marked directory, and replaces it only with --force', async (t) => {
  const quantized = await quantizedProxyDir(join(work, 'models', 'ok'), { ...ASYM, name: 'cli-export-ok' });
  const out = join(work, 'exported');
  const run = (...more: string[]): Promise<CliRun> => spawnCli(['export', '--quantized', quantized, '--format', 'llmcompressor', '--out', out, '--json', ...more], { cwd });
  const first = await run();
  t.is(first.code, 0, first.stderr);
  const result = JSON.parse(first.stdout) as { stack: string; checkpoint: string; files: Array<{ path: string }> };
  t.like(result, { stack: 'vllm', checkpoint: 'compressed-tensors' });
  t.deepEqual(result.files.map((f) => f.path), ['recipe.yaml']);
  t.like(JSON.parse(readFileSync(join(out, '.evoquant-output.json'), 'utf8')), { tool: 'evoquant', what: 'export-llmcompressor' });
  assertRefused(t, 'again without --force', await run(), /already exists \(pass --force/);
  const again = await run('--force');
  t.is(again.code, 0, again.stderr);
});
