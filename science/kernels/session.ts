// onnxruntime sessions over graphs built in code, cached by a key.
import ort from 'onnxruntime-node';
import { PromiseCache } from '../caching/promise-cache.js';

const sessions = new PromiseCache<ort.InferenceSession>();

function sessionOptions(): ort.InferenceSession.SessionOptions {
  const threads = Number(process.env.EVOQUANT_THREADS ?? 0);
  return { intraOpNumThreads: threads > 0 ? threads : 0, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
}

/** One session per distinct graph; building the graph happens only on the first request. */
export function cachedSession(key: string, build: () => Uint8Array): Promise<ort.InferenceSession> {
  return sessions.get(key, () => ort.InferenceSession.create(build(), sessionOptions()));
}

export function tensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}
