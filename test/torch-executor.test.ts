// The torch executor's TypeScript side (science/executor/torch-executor.ts, torch-plan.ts,
// dispatch.ts) against a fake Python executor that answers describe/quantize/evaluate and keeps
// every request it got: what is asked of the real one (the plan, the texts, the paths) is checked
// here; the real one's numbers are the Python package's tests and the lead's end-to-end tests.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { FAILURE_TYPES } from '../schema/failures.js';
import { parseRecipe, type Recipe } from '../schema/recipe.js';
import type { DescribeResult, TorchQuantizeRequest, TorchRequest } from '../schema/torch-executor.js';
import type { EvaluateRequest, QuantizeRequest } from '../schema/workflow-contracts.js';
import { loadBrown } from '../science/corpus/brown.js';
import { DeviceSlots } from '../science/executor/device-slots.js';
import { DispatchingExecutor } from '../science/executor/dispatch.js';
import type { Executor } from '../science/executor/executor.js';
import { RESULT_FILE, TorchExecutor } from '../science/executor/torch-executor.js';
import { planOf } from '../science/executor/torch-plan.js';
import { builtinRecipe } from '../science/recipes/builtin.js';

const root = mkdtempSync(join(tmpdir(), 'evoquant-torch-executor-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

/** A two-layer MoE as describe reports it: attention, router, two experts, embeddings and head. */
const DESCRIBED: DescribeResult = {
  architecture: 'qwen3_moe',
  numLayers: 2,
  numExperts: 2,
  expertsPerToken: 1,
  hiddenSize: 64,
  vocabSize: 256,
  parameters: 100_000,
  tokenizer: 'bytes',
  modules: [
    { name: 'model.embed_tokens', role: 'embeddings', layer: null, expert: null, inFeatures: 256, outFeatures: 64 },
    ...[0, 1].flatMap((l) => [
      { name: `model.layers.${l}.self_attn.q_proj`, role: 'attn_q' as const, layer: l, expert: null, inFeatures: 64, outFeatures: 64 },
      { name: `model.layers.${l}.mlp.gate`, role: 'router' as const, layer: l, expert: null, inFeatures: 64, outFeatures: 2 },
      ...[0, 1].map((e) => ({ name: `model.layers.${l}.mlp.experts.${e}.down_proj`, role: 'expert_down' as const, layer: l, expert: e, inFeatures: 128, outFeatures: 64 })),
    ]),
    { name: 'lm_head', role: 'lm_head', layer: null, expert: null, inFeatures: 64, outFeatures: 256 },
  ],
};

/** The fake: logs each request (one JSON file per process) and answers it as the contract says. */
function fakeExecutor(dir: string): { python: string; args: string[] } {
  mkdirSync(join(dir, 'requests'), { recursive: true });
  const script = join(dir, 'fake_executor.py');
  writeFileSync(
    script,
    `
import json, os, sys, time
req = json.loads(sys.stdin.read())
log = os.path.join(${JSON.stringify(join(dir, 'requests'))}, "%d-%d.json" % (time.time_ns(), os.getpid()))
open(log, "w").write(json.dumps({**req, "_gpu": os.environ.get("CUDA_VISIBLE_DEVICES"), "_order": os.environ.get("CUDA_DEVICE_ORDER")}))
out = os.fdopen(3, "w")
def send(m):
    out.write(json.dumps(m) + "\\n"); out.flush()
if req["kind"] == "describe":
    send({"type": "result", "result": json.loads(${JSON.stringify(JSON.stringify(DESCRIBED))})})
elif req["kind"] == "quantize":
    for i in range(2):
        send({"type": "progress", "stage": "quantize", "done": i + 1, "total": 2})
    os.makedirs(req["output"], exist_ok=True)
    open(os.path.join(req["output"], "config.json"), "w").write("{}")
    send({"type": "result", "result": {"output": req["output"], "reused": False, "resumedLayers": 0, "layers": 2, "storedBytes": 4321,
          "peakMemoryBytes": 1000, "deviceTotalBytes": None, "secondsPerLayer": [0.1, 0.1], "routedCounts": [[3, 5], [4, 4]],
          "coverage": {"minRouted": 3, "added": 0}}})
else:
    quantized = req["reference"] is not None
    send({"type": "result", "result": {"tokens": req["text"]["tokens"], "bytes": req["text"]["tokens"], "bitsPerByte": 2.5 if quantized else 2.4,
          "perplexity": 5.0, "top1": 0.4 if quantized else 0.45, "klBitsPerToken": 0.02 if quantized else None, "klBitsPerByte": 0.02 if quantized else None,
          "expertFrequency": [[0.5, 0.5], [0.25, 0.75]], "peakMemoryBytes": 2000, "deviceTotalBytes": None, "weightBytes": 4321, "lmEval": None}})
sys.exit(0)
`,
  );
  return { python: 'python3', args: [script] };
}

type Logged = TorchRequest & { _gpu: string | null; _order: string | null };

function requests(dir: string): Logged[] {
  const d = join(dir, 'requests');
  return readdirSync(d)
    .sort()
    .map((f) => JSON.parse(readFileSync(join(d, f), 'utf8')) as Logged);
}

function setup(name: string, gpus?: string[], device: 'cpu' | 'cuda' = gpus ? 'cuda' : 'cpu'): { dir: string; torch: TorchExecutor } {
  const dir = join(root, name);
  mkdirSync(join(dir, 'checkpoint'), { recursive: true });
  const torch = new TorchExecutor({
    artifactsDir: join(dir, 'artifacts'),
    process: fakeExecutor(dir),
    cacheDir: join(dir, 'cache'),
    memoryCapBytes: 123_456_789,
    baseDir: dir,
    gpus,
    device,
  });
  return { dir, torch };
}

const recipe = (input: unknown): Recipe => parseRecipe(input);

test('the plan gives every described module its resolved spec by role and depth; expert layers rank by depth', (t) => {
  const r = recipe({
    name: 'mixed',
    default: { bits: 4, groupSize: 128, method: { kind: 'gptq' } },
    roles: { embeddings: { bits: 16 }, lm_head: { bits: 8, method: { kind: 'rtn' } }, router: { bits: 16 } },
    depth: [{ from: 0.5, to: 1, roles: ['attn_q'], override: { bits: 8 } }],
    expertLayers: { rankBy: 'sensitivity', tiers: [{ below: 0.5, override: { bits: 3 } }, { below: 1, override: { bits: 2, symmetric: true } }] },
  });
  const cal = { files: ['/t.txt'], tokens: 128, seq: 128, batch: 8, minTokensPerExpert: 256, mode: 'sequential' as const };
  const plan = planOf(r, DESCRIBED, cal);
  t.is(plan.recipeName, 'mixed');
  t.deepEqual(Object.keys(plan.modules).sort(), DESCRIBED.modules.map((m) => m.name).sort());
  t.is(plan.modules['model.embed_tokens'].bits, 16);
  t.deepEqual(plan.modules['lm_head'], { bits: 8, format: 'int', groupSize: 128, symmetric: false, method: { kind: 'rtn' } });
  t.is(plan.modules['model.layers.0.self_attn.q_proj'].bits, 4);
  t.deepEqual(plan.modules['model.layers.0.self_attn.q_proj'].method, { kind: 'gptq', damp: 0.01, blockSize: 128, actOrder: true });
  t.is(plan.modules['model.layers.1.self_attn.q_proj'].bits, 8);
  t.is(plan.modules['model.layers.0.mlp.experts.1.down_proj'].bits, 3);
  t.is(plan.modules['model.layers.1.mlp.experts.0.down_proj'].bits, 2);
  t.true(plan.modules['model.layers.1.mlp.experts.0.down_proj'].symmetric);
  t.is(plan.modules['model.layers.1.mlp.gate'].bits, 16);
  // The hash keys resume and reuse: it moves with the specs and with the calibration.
  t.is(planOf(r, DESCRIBED, cal).recipeHash, plan.recipeHash);
  t.not(planOf(r, DESCRIBED, { ...cal, tokens: 256 }).recipeHash, plan.recipeHash);
  t.not(planOf({ ...r, default: { ...r.default, bits: 3 } }, DESCRIBED, cal).recipeHash, plan.recipeHash);
});

test('what the torch executor does not implement is refused as UnsupportedRecipe', (t) => {
  const cal = { files: ['/t.txt'], tokens: 128, seq: 128, batch: 8, minTokensPerExpert: 256, mode: 'sequential' as const };
  for (const input of [
    // Per-module AWQ on q_proj: its s differs from the other readers' of input_layernorm, no norm absorbs it.
    { name: 'awq', default: { bits: 4, method: { kind: 'awq' } } },
    { name: 'out', default: { bits: 4, outliers: { fraction: 0.01 } } },
    { name: 'rot', default: { bits: 4, rotation: { kind: 'hadamard' } } },
    { name: 'tiers', default: { bits: 4 }, experts: { rankBy: 'routing-frequency', tiers: [{ below: 0.5, override: { bits: 8 } }] } },
    { name: 'prune', default: { bits: 4 }, expertReduction: { mode: 'prune', fraction: 0.25 } },
  ]) {
    const err = t.throws(() => planOf(recipe(input), DESCRIBED, cal), undefined, input.name);
    t.is(err?.name, FAILURE_TYPES.unsupportedRecipe, input.name);
  }
  // A builtin the reference runs with AWQ only in one role: refused naming that module.
  const rtn = builtinRecipe('w4a16-g128-rtn');
  t.truthy(rtn);
  t.notThrows(() => planOf(rtn!, DESCRIBED, cal));
});

test('AWQ (shared-input scales) and AutoRound reach the executor with their fields; what awq-fold refuses is refused', (t) => {
  const cal = { files: ['/t.txt'], tokens: 128, seq: 128, batch: 8, minTokensPerExpert: 256, mode: 'sequential' as const };
  const awq = builtinRecipe('w4a16-g128-awq');
  t.truthy(awq);
  const plan = planOf(awq!, DESCRIBED, cal);
  t.deepEqual(plan.modules['model.layers.0.self_attn.q_proj'].method, { kind: 'awq', scaleGrid: 20, clip: true, clipGrid: 10, maxShrink: 0.5, scales: 'shared-input' });
  t.is(plan.modules['model.layers.0.mlp.gate'].bits, 16);
  const ar = planOf(recipe({ name: 'ar', default: { bits: 4, method: { kind: 'autoround', iterations: 50 } } }), DESCRIBED, cal);
  t.deepEqual(ar.modules['model.layers.1.mlp.experts.0.down_proj'].method, { kind: 'autoround', iterations: 50, learningRate: 1 / 50, minMax: true });
  t.not(ar.recipeHash, plan.recipeHash);
  const shared = { kind: 'awq', scales: 'shared-input' };
  for (const [name, input] of [
    ['o_proj', { name: 'o', default: { bits: 4, method: shared }, roles: { lm_head: { bits: 16 }, attn_o: { bits: 4, method: { kind: 'awq' } } } }],
    ['another grid', { name: 'g', default: { bits: 4, method: shared }, roles: { lm_head: { bits: 16 }, attn_o: { bits: 4, method: { kind: 'rtn' } }, attn_q: { bits: 4, method: { ...shared, scaleGrid: 10 } } } }],
  ] as const) {
    const withO = { ...DESCRIBED, modules: [...DESCRIBED.modules, { name: 'model.layers.0.self_attn.o_proj', role: 'attn_o' as const, layer: 0, expert: null, inFeatures: 64, outFeatures: 64 }, { name: 'model.layers.0.self_attn.k_proj', role: 'attn_k' as const, layer: 0, expert: null, inFeatures: 64, outFeatures: 16 }] };
    const err = t.throws(() => planOf(recipe(input), withO, cal), undefined, name);
    t.is(err?.name, FAILURE_TYPES.unsupportedRecipe, name);
    t.regex(err?.message ?? '', name === 'o_proj' ? /o_proj.*awq-o-proj/ : /k_proj: .*vllm\.awq\.fold-shared-input/, name);
  }
});

test('quantize → evaluate: describe once, the default Brown texts exported once, paths absolute, results written atomically', async (t) => {
  const { dir, torch } = setup('flow');
  const model = { checkpoint: 'checkpoint' };
  const req: QuantizeRequest = { evolutionId: 'evo-1', candidateId: 'cand_a', recipe: builtinRecipe('w4a16-g128-gptq')!, proxy: 'artifacts/proxy', calibrationTokens: 512, model };
  const stages: string[] = [];
  const q = await torch.quantize(req, (p) => stages.push(`${p.stage} ${p.done}/${p.total}`));
  t.is(q.path, join(dir, 'artifacts', 'evo-1', 'cand_a'));
  t.is(q.proxyBytes, 4321);
  t.is(q.peakMemoryBytes, 1000);
  t.false(q.reused);
  t.deepEqual(stages, ['load 0/1', 'quantize 1/2', 'quantize 2/2']);

  // A second candidate on the same checkpoint: describe is not asked again.
  await torch.quantize({ ...req, candidateId: 'cand_b' }, () => undefined);
  const asked = requests(dir);
  t.deepEqual(asked.map((r) => r.kind), ['describe', 'quantize', 'quantize']);
  const qr = asked[1] as TorchQuantizeRequest;
  t.is(qr.checkpoint, join(dir, 'checkpoint'));
  t.is(qr.output, q.path);
  t.is(qr.device, 'cpu');
  t.is(qr.memoryCapBytes, 123_456_789);
  t.deepEqual(qr.calibration, { files: [join(dir, 'cache', 'text', 'brown-train.txt')], tokens: 512, seq: 128, batch: 8, minTokensPerExpert: 256, mode: 'sequential' });
  t.deepEqual(readFileSync(qr.calibration.files[0]), Buffer.from(loadBrown().train), 'the calibration text is the Brown train split, byte for byte');
  t.is(Object.keys(qr.plan.modules).length, DESCRIBED.modules.length);

  const artifact = { candidateId: 'cand_a', path: q.path, proxyBytes: q.proxyBytes, workerIdentity: 'w' };
  const evalReq: EvaluateRequest = { candidateId: 'cand_a', artifact, proxy: 'artifacts/proxy', tokens: 1024, model };
  const m = await torch.evaluate(evalReq, undefined, () => undefined, () => undefined);
  t.deepEqual(m, {
    bitsPerByte: 2.5,
    top1: 0.4,
    kl: 0.02,
    baselineTop1: 0.45,
    expertFrequency: [[0.5, 0.5], [0.25, 0.75]],
    measuredMemory: { peakBytes: 2000, deviceTotalBytes: null, weightBytes: 4321 },
  });
  await torch.evaluate({ ...evalReq, candidateId: 'cand_b', artifact: { ...artifact, candidateId: 'cand_b', path: join(dir, 'artifacts', 'evo-1', 'cand_b') } }, undefined, () => undefined, () => undefined);
  const evals = requests(dir).filter((r) => r.kind === 'evaluate');
  // The candidate against the checkpoint, the checkpoint's own baseline once, then the second candidate.
  t.deepEqual(evals.map((r) => (r.kind === 'evaluate' ? [r.model, r.reference] : null)), [
    [q.path, join(dir, 'checkpoint')],
    [join(dir, 'checkpoint'), null],
    [join(dir, 'artifacts', 'evo-1', 'cand_b'), join(dir, 'checkpoint')],
  ]);
  const e0 = evals[0];
  t.true(e0.kind === 'evaluate' && e0.text.files[0] === join(dir, 'cache', 'text', 'brown-held-out.txt') && e0.cacheDir === join(dir, 'cache'));

  // The baseline is kept on disk: a restarted worker does not measure the checkpoint again.
  const restarted = new TorchExecutor({ artifactsDir: join(dir, 'artifacts'), process: fakeExecutor(dir), cacheDir: join(dir, 'cache'), device: 'cpu', memoryCapBytes: null, baseDir: dir });
  const m2 = await restarted.evaluate(evalReq, undefined, () => undefined, () => undefined);
  t.is(m2.baselineTop1, 0.45);
  t.is(requests(dir).filter((r) => r.kind === 'evaluate' && r.reference === null).length, 1, 'one baseline pass in all');

  const written = JSON.parse(readFileSync(join(q.path, RESULT_FILE), 'utf8')) as { quantize: { result: { storedBytes: number } }; evaluate: { result: { bitsPerByte: number } } };
  t.is(written.quantize.result.storedBytes, 4321);
  t.is(written.evaluate.result.bitsPerByte, 2.5);
  t.deepEqual(readdirSync(q.path).filter((f) => f.includes('.tmp')), [], 'no temporary file left behind');
});

test('user texts are taken as given (relative to the repository), a missing artifact is ArtifactMissing', async (t) => {
  const { dir, torch } = setup('user-text', undefined, 'cuda');
  writeFileSync(join(dir, 'cal.txt'), 'calibration text');
  const model = { checkpoint: join(dir, 'checkpoint'), calibrationText: ['cal.txt'], evaluationText: [join(dir, 'eval.txt')], device: 'cuda' as const, calibrationMode: 'original' as const };
  const q = await torch.quantize({ evolutionId: 'e', candidateId: '../escape', recipe: builtinRecipe('w4a16-g128-rtn')!, proxy: 'p', calibrationTokens: 256, model }, () => undefined);
  t.true(q.path.startsWith(join(dir, 'artifacts', 'e', '_')), 'an id that would climb out maps to a hashed directory');
  const qr = requests(dir).find((r) => r.kind === 'quantize') as TorchQuantizeRequest;
  t.deepEqual(qr.calibration.files, [join(dir, 'cal.txt')]);
  t.is(qr.calibration.mode, 'original');
  t.is(qr.device, 'cuda');

  // A CUDA model on a worker that runs torch on the CPU: refused, final, nothing spawned.
  const cpuOnly = new TorchExecutor({ artifactsDir: join(dir, 'a2'), process: { python: join(dir, 'no-python') }, cacheDir: join(dir, 'c2'), device: 'cpu', memoryCapBytes: null, baseDir: dir });
  const refused = await t.throwsAsync(cpuOnly.quantize({ evolutionId: 'e', candidateId: 'c', recipe: builtinRecipe('w4a16-g128-rtn')!, proxy: 'p', calibrationTokens: 256, model }, () => undefined));
  t.is(refused.name, FAILURE_TYPES.unsupportedModel);
  t.false(existsSync(join(dir, 'cache', 'text')), 'no default text exported when the model names its own');

  const missing = await t.throwsAsync(
    torch.evaluate({ candidateId: 'x', artifact: { candidateId: 'x', path: join(dir, 'nowhere'), proxyBytes: 1, workerIdentity: 'w' }, proxy: 'p', tokens: 128, model }, undefined, () => undefined, () => undefined),
  );
  t.is(missing.name, FAILURE_TYPES.artifactMissing);
});

test('the dispatcher: proxy requests to the reference, checkpoint requests to torch, UnsupportedModel without it', async (t) => {
  const calls: string[] = [];
  const stub = (name: string): Executor => ({
    quantize: async (req) => {
      calls.push(`${name}.quantize ${req.candidateId}`);
      return { path: `/a/${req.candidateId}`, proxyBytes: 1, reused: false };
    },
    evaluate: async (req) => {
      calls.push(`${name}.evaluate ${req.candidateId}`);
      return { bitsPerByte: 1, top1: 1, kl: 0, baselineTop1: 1, expertFrequency: [] };
    },
    sensitivityProfile: async () => {
      calls.push(`${name}.sensitivity`);
      throw new Error('not needed');
    },
  });
  const both = new DispatchingExecutor(stub('reference'), stub('torch'));
  const base: QuantizeRequest = { evolutionId: 'e', candidateId: 'p', recipe: builtinRecipe('w4a16-g128-rtn')!, proxy: 'artifacts/proxy', calibrationTokens: 128 };
  await both.quantize(base, () => undefined);
  await both.quantize({ ...base, candidateId: 'c', model: { checkpoint: '/m' } }, () => undefined);
  const artifact = { candidateId: 'c', path: '/a/c', proxyBytes: 1, workerIdentity: 'w' };
  await both.evaluate({ candidateId: 'c', artifact, proxy: 'artifacts/proxy', tokens: 128, model: { checkpoint: '/m' } }, undefined, () => undefined, () => undefined);
  await t.throwsAsync(both.sensitivityProfile('artifacts/proxy', 128, () => undefined));
  t.deepEqual(calls, ['reference.quantize p', 'torch.quantize c', 'torch.evaluate c', 'reference.sensitivity']);

  const referenceOnly = new DispatchingExecutor(stub('reference'), null);
  const err = await t.throwsAsync(referenceOnly.quantize({ ...base, model: { checkpoint: '/m' } }, () => undefined));
  t.is(err.name, FAILURE_TYPES.unsupportedModel);
  t.regex(err.message, /--executor torch/);
});

test('each CUDA process gets a GPU of its own through CUDA_VISIBLE_DEVICES; a run waits when all are taken', async (t) => {
  const { dir, torch } = setup('gpus', ['2', '5']);
  const model = { checkpoint: join(dir, 'checkpoint'), device: 'cuda' as const, calibrationText: [join(dir, 'cal.txt')] };
  writeFileSync(join(dir, 'cal.txt'), 'text');
  const base: QuantizeRequest = { evolutionId: 'e', candidateId: 'a', recipe: builtinRecipe('w4a16-g128-rtn')!, proxy: 'p', calibrationTokens: 128, model };
  await Promise.all(['a', 'b', 'c'].map((id) => torch.quantize({ ...base, candidateId: id }, () => undefined)));
  const logged = requests(dir);
  const quantized = logged.filter((r) => r.kind === 'quantize');
  t.is(quantized.length, 3);
  t.true(quantized.every((r) => (r._gpu === '2' || r._gpu === '5') && r._order === 'PCI_BUS_ID'));
  t.deepEqual(quantized.slice(0, 2).map((r) => r._gpu).sort(), ['2', '5'], 'the first two ran on different GPUs');
  t.is(logged.find((r) => r.kind === 'describe')?._gpu ?? null, process.env.CUDA_VISIBLE_DEVICES ?? null, 'describe takes no GPU');
});

test('DeviceSlots: one GPU per run, the next waiter gets a released one', async (t) => {
  const slots = new DeviceSlots(['0']);
  const order: string[] = [];
  let release!: () => void;
  const first = slots.with(async (gpu) => {
    order.push(`first on ${gpu}`);
    await new Promise<void>((r) => (release = r));
  });
  const second = slots.with(async (gpu) => void order.push(`second on ${gpu}`));
  await new Promise((r) => setImmediate(r));
  t.deepEqual(order, ['first on 0']);
  release();
  await Promise.all([first, second]);
  t.deepEqual(order, ['first on 0', 'second on 0']);
  await t.throwsAsync(slots.with(async () => { throw new Error('boom'); }), { message: 'boom' });
  t.is(await slots.with(async (gpu) => gpu), '0', 'a failed run gives its GPU back');
});
