// Which proxy a model directory holds, by its config.json's model_type: the MoE proxy
// (evoquant_moe) or the dense long-context proxy (llama). Read before choosing a loader.
import { join } from 'node:path';
import { echo } from '../../schema/echo.js';
import { parseJsonStrict } from '../input-files/json.js';
import { InputFileError, readInputText } from '../input-files/read.js';
import { MAX_MODEL_CONFIG_BYTES, ModelLoadError } from './load.js';

export type ProxyKind = 'moe' | 'dense';

export function proxyKind(dir: string): ProxyKind {
  const path = join(dir, 'config.json');
  let raw: unknown;
  try {
    raw = parseJsonStrict(readInputText(path, MAX_MODEL_CONFIG_BYTES));
  } catch (err) {
    if (err instanceof InputFileError) throw new ModelLoadError(`model: ${err.message}`);
    throw new ModelLoadError(`model: ${echo(path)} is not valid JSON`);
  }
  const type = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>).model_type : undefined;
  return type === 'llama' ? 'dense' : 'moe';
}
