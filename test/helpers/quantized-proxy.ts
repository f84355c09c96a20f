// Quantized proxies for export tests: the committed proxy, calibrated once per test file on a short
// sample (RTN ignores it; GPTQ uses it), quantized with a recipe and written as `evoquant quantize` does.
import { applyRecipe, prepareModel, type PreparedModel } from '../../science/compression/pipeline.js';
import { writeQuantizedModel } from '../../science/compression/quantized-format.js';
import { parseRecipe, type RecipeInput } from '../../schema/recipe.js';
import { PROXY_DIR } from './proxy.js';

let prepared: Promise<PreparedModel> | null = null;

export function preparedProxy(): Promise<PreparedModel> {
  prepared ??= prepareModel(PROXY_DIR, { calibration: { tokens: 512 } });
  return prepared;
}

/** Quantizes the proxy with `recipe` into `dir` (created; must not exist). */
export async function quantizedProxyDir(dir: string, recipe: RecipeInput): Promise<string> {
  const p = await preparedProxy();
  const qp = await applyRecipe(p, parseRecipe(recipe));
  writeQuantizedModel(dir, qp, p.weights.config, { replace: false });
  return dir;
}
