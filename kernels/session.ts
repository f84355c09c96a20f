// onnxruntime sessions over graphs built in code, cached by a key.
import ort from 'onnxruntime-node';

const sessions = new Map<string, Promise<ort.InferenceSession>>();

function sessionOptions(): ort.InferenceSession.SessionOptions {
  const threads = Number(process.env.EVOQUANT_THREADS ?? 0);
  return { intraOpNumThreads: threads > 0 ? threads : 0, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
}

/** One session per distinct graph; building the graph happens only on the first request. */
export function cachedSession(key: string, build: () => Uint8Array): Promise<ort.InferenceSession> {
  let s = sessions.get(key);
  if (!s) {
    s = ort.InferenceSession.create(build(), sessionOptions());
    sessions.set(key, s);
  }
  return s;
}

export function tensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}
