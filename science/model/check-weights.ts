// A model directory's config.json must agree with its tensors: every tensor the config implies is
// present with the implied size, and the config fits the evaluation (byte vocabulary, window length).
// Checked at load, so a mismatch is a one-line bad-input error, not a crash deep in a forward pass.
import { PROXY_WINDOW_BYTES, type ProxyConfig } from '../../schema/proxy-config.js';
import { ModelLoadError } from './load.js';
import { proxyModules } from './modules.js';
import * as names from './tensor-names.js';
import { echo } from '../../schema/echo.js';

/** Linear modules' [out, in] by tensor name. */
export function linearShapes(c: ProxyConfig): Map<string, { outFeatures: number; inFeatures: number }> {
  return new Map(proxyModules(c).map((m) => [m.tensor, { outFeatures: m.outFeatures, inFeatures: m.inFeatures }]));
}

/** Element count of every tensor the config implies, by name. */
export function expectedTensorSizes(c: ProxyConfig): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const [name, s] of linearShapes(c)) sizes.set(name, s.outFeatures * s.inFeatures);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    sizes.set(names.inputNormTensor(l), c.hidden_size);
    sizes.set(names.postAttnNormTensor(l), c.hidden_size);
  }
  sizes.set(names.FINAL_NORM, c.hidden_size);
  return sizes;
}

/** Config limits that depend on how evoquant runs the proxy rather than on the format. */
export function checkProxyConfigFits(dir: string, c: ProxyConfig): void {
  if (c.max_position_embeddings < PROXY_WINDOW_BYTES) {
    throw new ModelLoadError(
      `model: ${echo(dir)}/config.json: max_position_embeddings ${c.max_position_embeddings} is below the ${PROXY_WINDOW_BYTES}-byte evaluation window`,
    );
  }
}

/** Throws ModelLoadError naming the first tensor the config implies that is missing or mis-sized. */
export function checkProxyWeights(dir: string, c: ProxyConfig, tensors: ReadonlyMap<string, Float32Array>): void {
  checkProxyConfigFits(dir, c);
  const where = `model: ${echo(dir)}`;
  for (const [name, size] of expectedTensorSizes(c)) {
    const t = tensors.get(name);
    if (!t) {
      throw new ModelLoadError(
        `${where} lacks float tensor ${name}, which config.json implies (num_hidden_layers ${c.num_hidden_layers}, num_experts ${c.num_experts})`,
      );
    }
    if (t.length !== size) throw new ModelLoadError(`${where}: tensor ${name} has ${t.length} elements, config.json implies ${size}`);
  }
}
