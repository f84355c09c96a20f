// The long-context evaluation against torch: the TypeScript dense forward pass with its KV-cache
// simulation (science/model/dense-forward.ts, science/kv-cache/*) and evaluation
// (science/long-context/*) against an independent torch implementation (python/evoquant_torch/
// kv_cache.py, layers.py, long_context.py) on the same windows and retrieval probes, for KV policies
// covering every gene: none; int8 per token; int4 per channel + recent window; int2 per token;
// fp8 e4m3 keys + e5m2 values; int4 pre-RoPE + Hadamard keys + sinks; a per-layer band.
// The model is the committed dense proxy (artifacts/dense-proxy) when present, else a random small
// Llama written by python/tests/make_dense_fixture.py (byte vocabulary, 4 layers, GQA).
//
// Tolerances, and why: both sides compute in float32 with different summation orders (onnxruntime's
// GEMMs vs torch's), so logits differ by ~1e-6 relative and the metrics by far less than 1e-3:
//   - bits/byte per bucket and overall within 1e-3 (the bound for the evaluation);
//   - KL per byte within 1e-3 bits and 5% of its value: it is a difference of the same logits;
//   - top-1 and retrieval accuracy: an argmax can flip only where two logits tie within float32
//     noise, so at most 0.2% of a bucket's bytes and 1 letter per distance may differ;
//   - and the policies must matter: int2 per token must raise the long bucket's KL above int8's on
//     both sides, so a simulation that ignored the policy could not pass.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { repoRoot } from '../engine/stack/paths.js';
import { loadDenseModel } from '../science/compression/dense-artifact.js';
import type { BucketedMetrics } from '../science/long-context/bucketed-eval.js';
import { evaluateLongContext, longContextReference, longContextSet } from '../science/long-context/long-context-set.js';
import { denseLogits } from '../science/long-context/logits.js';
import type { RetrievalMetrics } from '../science/long-context/retrieval-eval.js';
import { KvPolicy, type KvPolicyInput } from '../schema/kv-policy.js';
import { pythonEnv, withoutPythonEnv } from './helpers/python-env.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const PROXY = join(repoRoot, 'artifacts/dense-proxy');
const haveProxy = existsSync(join(PROXY, 'config.json')) && existsSync(join(PROXY, 'model.safetensors'));

const POLICIES: Record<string, KvPolicyInput> = {
  none: {},
  'int8 token g32': { keys: { format: 'int8', axis: 'token', groupSize: 32 }, values: { format: 'int8', axis: 'token', groupSize: 32 } },
  'int4 channel g32 + window 32': { keys: { format: 'int4', axis: 'channel', groupSize: 32 }, values: { format: 'int4', axis: 'token', groupSize: 32 }, recentWindow: 32 },
  'int2 token g32': { keys: { format: 'int2', axis: 'token', groupSize: 32 }, values: { format: 'int2', axis: 'token', groupSize: 32 } },
  'fp8 e4m3 K + e5m2 V': { keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e5m2' } },
  'int4 pre-rope + hadamard + 4 sinks': {
    keys: { format: 'int4', axis: 'token', groupSize: 16 },
    values: { format: 'int4', axis: 'token', groupSize: 16 },
    keyPosition: 'pre-rope',
    keyRotation: 'hadamard',
    sinkTokens: 4,
  },
  'KIVI-2 channel keys g32 + 4 sinks + window 64': { keys: { format: 'int2', axis: 'channel', groupSize: 32 }, values: { format: 'int2', axis: 'token', groupSize: 32 }, sinkTokens: 4, recentWindow: 64 },
  'per-layer band': {
    keys: { format: 'int4', axis: 'channel', groupSize: 16 },
    values: { format: 'int4', axis: 'token', groupSize: 32 },
    layers: [{ from: 0.5, to: 1, override: { keys: { format: 'int2', axis: 'token', groupSize: 16 }, recentWindow: 64 } }],
  },
};

const BPB_TOL = 1e-3;
const KL_TOL = 1e-3;
const KL_REL = 0.05;
/** Below this, KL is float32 noise on both sides. */
const KL_FLOOR = 1e-5;
const TOP1_SHARE = 0.002;

interface TorchResult {
  metrics: BucketedMetrics;
  retrieval: RetrievalMetrics[];
}

function runCli(python: string, args: string[]): Promise<TorchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-m', 'evoquant_torch.long_context', ...args], {
      cwd: join(repoRoot, 'python'),
      env: { ...process.env, PYTHONPATH: join(repoRoot, 'python'), HF_HUB_OFFLINE: '1', OMP_NUM_THREADS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as TorchResult) : reject(new Error(`long_context exited ${code}: ${err.slice(-2000)}`))));
  });
}

function runPython(python: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { cwd: join(repoRoot, 'python'), env: { ...process.env, OMP_NUM_THREADS: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}: ${err.slice(-2000)}`))));
  });
}

interface Prepared {
  python: string;
  work: string;
  modelDir: string;
  model: ReturnType<typeof loadDenseModel>;
  seq: number;
  set: ReturnType<typeof longContextSet>;
  reference: Float32Array;
}

// Set up once (the TS reference pass over the windows), then one test per policy: each reports as it
// ends, so ava's inactivity timeout measures one policy, not all of them.
let prepared: Promise<Prepared | { missing: string }> | null = null;
function prepare(): Promise<Prepared | { missing: string }> {
  prepared ??= (async () => {
    const env = pythonEnv();
    if ('missing' in env) return { missing: env.missing };
    const work = makeTempDir('long-context-conformance');
    let modelDir = PROXY;
    if (!haveProxy) {
      modelDir = join(work, 'dense-fixture');
      await runPython(env.python, ['-m', 'tests.make_dense_fixture', modelDir, '7']);
    }
    const model = loadDenseModel(modelDir);
    // The standard long-context set (held-out Brown windows, probes at its distances), cut down: windows
    // long enough for three buckets, few enough to keep the TS pass to seconds per policy.
    const seq = haveProxy ? model.config.max_position_embeddings : 640;
    const set = longContextSet(seq, { tokens: 4 * seq, probesPerDistance: 2 });
    writeFileSync(join(work, 'windows.bin'), set.windows.bytes);
    writeFileSync(join(work, 'probes.json'), JSON.stringify({ probes: set.probes.map((p) => ({ window: Buffer.from(p.window).toString('base64'), query: p.query, distance: p.distance })) }));
    const reference = await longContextReference(denseLogits(model), set);
    return { python: env.python, work, modelDir, model, seq, set, reference };
  })();
  return prepared;
}
test.after.always(async () => {
  const p = prepared ? await prepared.catch(() => null) : null;
  if (p && 'work' in p) removeTempDir(p.work);
});

const klLong: Record<string, { ts: number; torch: number }> = {};

for (const [index, [name, input]] of Object.entries(POLICIES).entries()) {
  test.serial(`KV policy "${name}": TS and torch agree on bits/byte and KL per bucket (1e-3), top-1 and retrieval`, async (t) => {
    const p = await prepare();
    if ('missing' in p) return withoutPythonEnv(t, p.missing);
    if (index === 0) t.log(`model: ${haveProxy ? 'artifacts/dense-proxy' : 'random small Llama (python/tests/make_dense_fixture.py)'}`);
    const { python, work, modelDir, model, seq, set, reference } = p;
    const { buckets } = set;
    const policy = KvPolicy.parse(input);
    const file = join(work, `policy-${index}.json`);
    writeFileSync(file, JSON.stringify(policy));
    const { retrieval: tsRetrieval, ...ts } = await evaluateLongContext(denseLogits(model, policy), set, reference);
    const torch = await runCli(python, ['--model', modelDir, '--windows', join(work, 'windows.bin'), '--seq', String(seq), '--probes', join(work, 'probes.json'), '--kv', file]);

    const rows = [{ label: 'all', ts, torch: torch.metrics }, ...ts.buckets.map((b, i) => ({ label: `${b.from}-${b.to - 1}`, ts: b, torch: torch.metrics.buckets[i] }))];
    t.is(torch.metrics.buckets.length, ts.buckets.length, `${name}: buckets`);
    for (const r of rows) {
      t.is(r.torch.tokens, r.ts.tokens, `${name} ${r.label}: tokens`);
      const dBpb = Math.abs(r.torch.bitsPerByte - r.ts.bitsPerByte);
      const dKl = Math.abs((r.torch.klBitsPerByte ?? NaN) - (r.ts.klBitsPerByte ?? NaN));
      const dTop1 = Math.abs(r.torch.top1 - r.ts.top1);
      t.log(`${name} ${r.label}: bpb ts ${r.ts.bitsPerByte.toFixed(5)} torch ${r.torch.bitsPerByte.toFixed(5)} |Δ| ${dBpb.toExponential(2)}; KL ts ${r.ts.klBitsPerByte?.toExponential(3)} torch ${r.torch.klBitsPerByte?.toExponential(3)} |Δ| ${dKl.toExponential(2)}; top-1 |Δ| ${dTop1.toFixed(4)}`);
      t.true(dBpb <= BPB_TOL, `${name} ${r.label}: bits/byte ts ${r.ts.bitsPerByte} torch ${r.torch.bitsPerByte}`);
      t.true(dKl <= Math.min(KL_TOL, Math.max(KL_FLOOR, KL_REL * (r.ts.klBitsPerByte ?? 0))), `${name} ${r.label}: KL ts ${r.ts.klBitsPerByte} torch ${r.torch.klBitsPerByte}`);
      t.true(dTop1 <= TOP1_SHARE + 1e-12, `${name} ${r.label}: top-1 ts ${r.ts.top1} torch ${r.torch.top1}`);
    }
    t.deepEqual(torch.retrieval.map((r) => [r.distance, r.probes, r.letters]), tsRetrieval.map((r) => [r.distance, r.probes, r.letters]), `${name}: retrieval distances`);
    tsRetrieval.forEach((r, i) => {
      const dLetters = Math.abs(Math.round((torch.retrieval[i].accuracy - r.accuracy) * r.letters));
      t.true(dLetters <= 1, `${name} retrieval @${r.distance}: ts ${r.accuracy} torch ${torch.retrieval[i].accuracy}`);
    });
    const long = buckets.length - 1;
    klLong[name] = { ts: ts.buckets[long].klBitsPerByte ?? NaN, torch: torch.metrics.buckets[long].klBitsPerByte ?? NaN };
  });
}

test.serial('both implementations see the policies differ: none costs nothing, int2 costs the long bucket more than int8', async (t) => {
  const p = await prepare();
  if ('missing' in p) return withoutPythonEnv(t, p.missing);
  t.is(klLong.none.ts, 0);
  t.is(klLong.none.torch, 0);
  t.true(klLong['int2 token g32'].ts > 2 * klLong['int8 token g32'].ts, 'TS: int2 KV costs the long bucket more than int8');
  t.true(klLong['int2 token g32'].torch > 2 * klLong['int8 token g32'].torch, 'torch: int2 KV costs the long bucket more than int8');
});
