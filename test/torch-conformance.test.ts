// The torch executor against the reference executor on the trained proxy, through the same
// TypeScript classes the GPU worker runs: the proxy exported as a bf16 Hugging Face (Mixtral)
// checkpoint goes through TorchExecutor (python/evoquant_torch, on the CPU), the proxy itself
// through ReferenceExecutor, both with one RTN recipe of several grids (4-bit g32 asymmetric,
// 8-bit per-channel symmetric, 3-bit g64). Then:
//   - every tensor of the torch executor's compressed-tensors checkpoint is byte-identical to the
//     reference artifact exported by science/export/compressed-tensors (codes, scales, zero points);
//   - bits/byte on Brown's held-out text agree within 1e-3 (the bound; measured ~1e-8).
// GPTQ's conformance (codes within a stated tolerance) is python/tests/test_quant_proxy.py, run by
// test/torch-python-suite.test.ts.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { buildCompressedTensors, exportCompressedTensors } from '../science/export/compressed-tensors/index.js';
import { readQuantizedModules } from '../science/compression/quantized-format.js';
import { ReferenceExecutor } from '../science/executor/reference-executor.js';
import { TorchExecutor } from '../science/executor/torch-executor.js';
import { readSafetensors } from '../science/safetensors/format.js';
import { Recipe } from '../schema/recipe.js';
import { repoRoot } from '../engine/stack/paths.js';
import { pythonEnv, withoutPythonEnv } from './helpers/python-env.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const RTN_MIXED = Recipe.parse({
  name: 'rtn-mixed-grids',
  default: { bits: 4, groupSize: 32 },
  roles: {
    attn_v: { bits: 8, groupSize: 'channel', symmetric: true },
    expert_down: { bits: 3, groupSize: 64 },
    router: { bits: 16 },
    embeddings: { bits: 16 },
    lm_head: { bits: 16 },
  },
});

const TOKENS = 4096;

test('the torch executor writes the reference executor\'s RTN checkpoint byte for byte and scores it within 1e-3 bits/byte', async (t) => {
  const env = pythonEnv();
  if ('missing' in env) return withoutPythonEnv(t, env.missing);
  const work = makeTempDir('torch-conformance');
  t.teardown(() => removeTempDir(work));
  const hf = join(work, 'proxy-hf');
  mkdirSync(hf);
  for (const f of await exportCompressedTensors({ quantizedDir: join(repoRoot, 'artifacts/proxy') })) writeFileSync(join(hf, f.path), f.bytes);

  const reference = new ReferenceExecutor({ artifactsDir: join(work, 'reference'), deviceMemoryBytes: 8 * 2 ** 30, baseDir: repoRoot });
  const torch = new TorchExecutor({
    artifactsDir: join(work, 'torch'),
    process: { python: env.python, env: { ...process.env, PYTHONPATH: join(repoRoot, 'python'), HF_HUB_OFFLINE: '1' } },
    cacheDir: join(work, 'cache'),
    device: 'cpu',
    memoryCapBytes: null,
    baseDir: repoRoot,
  });
  const model = { checkpoint: hf, calibrationMode: 'original' as const };
  const request = { evolutionId: 'conformance', candidateId: 'rtn', recipe: RTN_MIXED, proxy: 'artifacts/proxy', calibrationTokens: 512 };
  const ref = await reference.quantize(request, () => undefined);
  const got = await torch.quantize({ ...request, model }, () => undefined);

  const want = buildCompressedTensors(readQuantizedModules(ref.path)).tensors;
  const written = readSafetensors(join(got.path, 'model.safetensors')).tensors;
  t.deepEqual([...written.keys()].sort(), [...want.keys()].sort(), 'the same tensors');
  const differing = [...want].filter(([name, w]) => {
    const g = written.get(name)!;
    return g.dtype !== w.dtype || g.shape.join() !== w.shape.join() || Buffer.compare(Buffer.from(g.data), Buffer.from(w.data)) !== 0;
  });
  t.deepEqual(differing.map(([name]) => name), [], 'every tensor byte-identical');
  t.true([...written.keys()].some((k) => k.endsWith('w2.weight_packed')) && [...written.keys()].some((k) => k.endsWith('v_proj.weight_packed')));

  const refArtifact = { candidateId: 'rtn', path: ref.path, proxyBytes: ref.proxyBytes, workerIdentity: 'test' };
  const refScore = await reference.evaluate({ candidateId: 'rtn', artifact: refArtifact, proxy: 'artifacts/proxy', tokens: TOKENS }, undefined, () => undefined, () => undefined);
  const torchArtifact = { candidateId: 'rtn', path: got.path, proxyBytes: got.proxyBytes, workerIdentity: 'test' };
  const torchScore = await torch.evaluate({ candidateId: 'rtn', artifact: torchArtifact, proxy: 'artifacts/proxy', tokens: TOKENS, model }, undefined, () => undefined, () => undefined);
  t.log(`bits/byte: torch ${torchScore.bitsPerByte.toFixed(9)}, reference ${refScore.bitsPerByte.toFixed(9)}; top-1 ${torchScore.top1} vs ${refScore.top1}; KL ${torchScore.kl.toExponential(3)} vs ${refScore.kl.toExponential(3)}`);
  t.true(Math.abs(torchScore.bitsPerByte - refScore.bitsPerByte) < 1e-3);
  t.true(Math.abs(torchScore.kl - refScore.kl) < 1e-3);
  t.true(torchScore.kl > 0, 'the quantized model differs from the original');
  t.is(torchScore.top1, refScore.top1);
});
