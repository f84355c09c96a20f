// The GPU activities over the Executor interface (activities/gpu.ts), in Temporal's mock activity
// environment (no server): a checkpoint request's stages become heartbeats, its measured memory
// reaches the measurement and the artifact, cancellation reaches the executor as an AbortSignal,
// and a proxy request keeps its old shape (no new fields in its history).
import test from 'ava';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createGpuActivities } from '../activities/gpu.js';
import type { Executor } from '../science/executor/executor.js';
import { builtinRecipe } from '../science/recipes/builtin.js';
import type { EvaluationMeasurement, QuantizedArtifact, QuantizeRequest } from '../schema/workflow-contracts.js';

const quantizeRequest: QuantizeRequest = { evolutionId: 'e', candidateId: 'c', recipe: builtinRecipe('w4a16-g128-rtn')!, proxy: 'artifacts/proxy', calibrationTokens: 128 };
const artifact = { candidateId: 'c', path: '/a/c', proxyBytes: 10, workerIdentity: 'w' };

function stubExecutor(seen: { signals: Array<AbortSignal | undefined> }): Executor {
  return {
    quantize: async (req, onProgress, signal) => {
      seen.signals.push(signal);
      onProgress({ stage: 'quantize', done: 1, total: 1 });
      return req.model ? { path: '/a/c', proxyBytes: 10, reused: false, peakMemoryBytes: 1234 } : { path: '/a/c', proxyBytes: 10, reused: false };
    },
    evaluate: async (req, _resume, onBatch, onProgress, signal) => {
      seen.signals.push(signal);
      onProgress({ stage: 'reference', done: 1, total: 2 });
      onProgress({ stage: 'evaluate', done: 2, total: 2 });
      if (!req.model) onBatch({ nextWindow: 1, nats: 0, correct: 0, kl: 0, counts: [] });
      const base = { bitsPerByte: 1, top1: 0.5, kl: 0.1, baselineTop1: 0.6, expertFrequency: [] };
      return req.model ? { ...base, measuredMemory: { peakBytes: 99, deviceTotalBytes: null, weightBytes: 42 } } : base;
    },
    sensitivityProfile: () => Promise.reject(new Error('unused')),
  };
}

test('a checkpoint request: stage heartbeats, measured memory, the cancellation signal', async (t) => {
  const seen = { signals: [] as Array<AbortSignal | undefined> };
  const activities = createGpuActivities({ executor: stubExecutor(seen), identity: 'w', chaos: null });
  const env = new MockActivityEnvironment({ attempt: 1 });
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const model = { checkpoint: '/models/m' };
  const a: QuantizedArtifact = await env.run(activities.quantize, { ...quantizeRequest, model });
  t.is(a.peakMemoryBytes, 1234);
  const m: EvaluationMeasurement = await env.run(activities.evaluate, { candidateId: 'c', artifact: a, proxy: 'artifacts/proxy', tokens: 128, model });
  t.deepEqual(m.measuredMemory, { peakBytes: 99, deviceTotalBytes: null, weightBytes: 42 });
  t.true(beats.some((b) => JSON.stringify(b) === JSON.stringify({ stage: 'reference', done: 1, total: 2 })), JSON.stringify(beats));
  t.true(seen.signals.every((s) => s instanceof AbortSignal));
});

test('a proxy request: no new fields, and only its resumable windows are beaten during evaluation', async (t) => {
  const seen = { signals: [] as Array<AbortSignal | undefined> };
  const activities = createGpuActivities({ executor: stubExecutor(seen), identity: 'w', chaos: null });
  const env = new MockActivityEnvironment({ attempt: 1 });
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const a: QuantizedArtifact = await env.run(activities.quantize, quantizeRequest);
  t.deepEqual(a, { candidateId: 'c', path: '/a/c', proxyBytes: 10, workerIdentity: 'w' });
  beats.length = 0;
  const m: EvaluationMeasurement = await env.run(activities.evaluate, { candidateId: 'c', artifact, proxy: 'artifacts/proxy', tokens: 128 });
  t.false('measuredMemory' in m);
  t.true(beats.length > 0 && beats.every((b) => (b as { stage: string; progress?: unknown }).stage === 'evaluate' && 'progress' in (b as object)), JSON.stringify(beats));
});
