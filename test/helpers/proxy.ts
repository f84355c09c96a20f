// The committed proxy model, loaded once per test file.
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../science/compression/quantized-format.js';
import { ProxyModel } from '../../science/model/forward.js';

export const PROXY_DIR = fileURLToPath(new URL('../../artifacts/proxy', import.meta.url));

let cached: { weights: ReturnType<typeof loadModel>; model: ProxyModel } | null = null;

export function proxy(): { weights: ReturnType<typeof loadModel>; model: ProxyModel } {
  if (!cached) {
    const weights = loadModel(PROXY_DIR);
    cached = { weights, model: new ProxyModel(weights) };
  }
  return cached;
}
