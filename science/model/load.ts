// Loads a model directory (HF layout: config.json + model.safetensors) as effective float32 weights.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProxyConfig } from '../../schema/proxy-config.js';
import { ForbiddenKeyError, parseJsonStrict } from '../input-files/json.js';
import { InputFileError, readInputText } from '../input-files/read.js';
import { readSafetensors, SafetensorsFormatError, type SafetensorsFile } from '../safetensors/format.js';
import { toFloat32 } from '../safetensors/dtypes.js';
import { echo } from '../../schema/echo.js';
import type { ProxyWeights } from './forward.js';
import { FAILURE_TYPES } from '../../schema/failures.js';

export class ModelLoadError extends Error {
  override readonly name = FAILURE_TYPES.modelLoad;
}

export interface ModelDirectory {
  dir: string;
  /** The raw config.json, including any quantization_config. */
  rawConfig: Record<string, unknown>;
  config: ProxyConfig;
  file: SafetensorsFile;
}

/** Real config.json files are a few KiB; a larger one is not a model config. */
export const MAX_MODEL_CONFIG_BYTES = 1024 * 1024;

function asLoadError<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof InputFileError || err instanceof SafetensorsFormatError) throw new ModelLoadError(`model: ${err.message}`);
    throw err;
  }
}

export function readModelDirectory(dir: string): ModelDirectory {
  const configPath = join(dir, 'config.json');
  const weightsPath = join(dir, 'model.safetensors');
  const text = asLoadError(() => readInputText(configPath, MAX_MODEL_CONFIG_BYTES));
  let raw: unknown;
  try {
    raw = parseJsonStrict(text);
  } catch (err) {
    throw new ModelLoadError(`model: ${echo(configPath)} ${err instanceof ForbiddenKeyError ? `has a ${err.message.replace(/ is not allowed$/, '')}, which is not allowed` : 'is not valid JSON'}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelLoadError(`model: ${echo(configPath)} is not a JSON object`);
  const rawConfig = raw as Record<string, unknown>;
  const parsed = ProxyConfig.safeParse(rawConfig);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelLoadError(`model: ${echo(configPath)}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { dir, rawConfig, config: parsed.data, file: asLoadError(() => readSafetensors(weightsPath)) };
}

/** Float tensors of an unquantized model directory. */
export function floatTensors(file: SafetensorsFile): Map<string, Float32Array> {
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16') tensors.set(name, toFloat32(t.data, t.dtype));
  }
  return tensors;
}

/** sha256 of a model directory's weights file: the identity caches are keyed by. */
export function modelHash(dir: string): string {
  return createHash('sha256').update(readFileSync(join(dir, 'model.safetensors'))).digest('hex');
}
