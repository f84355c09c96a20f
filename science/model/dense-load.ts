// The dense proxy's config.json (Llama layout), checked; compression/dense-artifact.ts reads the weights.
import { join } from 'node:path';
import { DenseProxyConfig } from '../../schema/dense-proxy-config.js';
import { echo } from '../../schema/echo.js';
import { ForbiddenKeyError, parseJsonStrict } from '../input-files/json.js';
import { InputFileError, readInputText } from '../input-files/read.js';
import { SafetensorsFormatError } from '../safetensors/format.js';
import { MAX_MODEL_CONFIG_BYTES, ModelLoadError } from './load.js';

function orLoadError<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof InputFileError || err instanceof SafetensorsFormatError) throw new ModelLoadError(`model: ${err.message}`);
    throw err;
  }
}

export function readDenseConfig(dir: string): DenseProxyConfig {
  const path = join(dir, 'config.json');
  const text = orLoadError(() => readInputText(path, MAX_MODEL_CONFIG_BYTES));
  let raw: unknown;
  try {
    raw = parseJsonStrict(text);
  } catch (err) {
    throw new ModelLoadError(`model: ${echo(path)} ${err instanceof ForbiddenKeyError ? `has a ${err.message.replace(/ is not allowed$/, '')}, which is not allowed` : 'is not valid JSON'}`);
  }
  const parsed = DenseProxyConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelLoadError(`model: ${echo(path)}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

