// Loads a model directory (HF layout: config.json + model.safetensors) as effective float32 weights.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProxyConfig } from '../../schema/proxy-config.js';
import { readSafetensors, type SafetensorsFile } from '../safetensors/format.js';
import { toFloat32 } from '../safetensors/dtypes.js';
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

export function readModelDirectory(dir: string): ModelDirectory {
  const configPath = join(dir, 'config.json');
  const weightsPath = join(dir, 'model.safetensors');
  if (!existsSync(configPath)) throw new ModelLoadError(`model: ${configPath} does not exist`);
  if (!existsSync(weightsPath)) throw new ModelLoadError(`model: ${weightsPath} does not exist`);
  let rawConfig: Record<string, unknown>;
  try {
    rawConfig = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new ModelLoadError(`model: ${configPath} is not valid JSON`);
  }
  const parsed = ProxyConfig.safeParse(rawConfig);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelLoadError(`model: ${configPath}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { dir, rawConfig, config: parsed.data, file: readSafetensors(weightsPath) };
}

/** Float tensors of an unquantized model directory. */
export function floatTensors(file: SafetensorsFile): Map<string, Float32Array> {
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16') tensors.set(name, toFloat32(t.data, t.dtype));
  }
  return tensors;
}

export function loadFloatModel(dir: string): ProxyWeights {
  const m = readModelDirectory(dir);
  return { config: m.config, tensors: floatTensors(m.file) };
}

/** sha256 of a model directory's weights file: the identity caches are keyed by. */
export function modelHash(dir: string): string {
  return createHash('sha256').update(readFileSync(join(dir, 'model.safetensors'))).digest('hex');
}
