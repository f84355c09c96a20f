// Reads the dense proxy, plain or as a quantized artifact written by writeQuantizedModel, as
// effective float weights: every stored module decoded, checked against the config's shapes.
import { join } from 'node:path';
import { echo } from '../../schema/echo.js';
import { DenseModel, type DenseWeights } from '../model/dense-forward.js';
import { readDenseConfig } from '../model/dense-load.js';
import { denseModules } from '../model/dense-modules.js';
import { floatTensors, MAX_MODEL_CONFIG_BYTES, ModelLoadError } from '../model/load.js';
import { dequantize } from '../quantization/quantized-linear.js';
import { readSafetensors, SafetensorsFormatError } from '../safetensors/format.js';
import { parseJsonStrict } from '../input-files/json.js';
import { InputFileError, readInputText } from '../input-files/read.js';
import { QuantizationConfig, storedModule } from './quantized-format.js';

function readFile(dir: string) {
  try {
    return readSafetensors(join(dir, 'model.safetensors'));
  } catch (err) {
    if (err instanceof InputFileError || err instanceof SafetensorsFormatError) throw new ModelLoadError(`model: ${err.message}`);
    throw err;
  }
}

export function loadDenseWeights(dir: string): DenseWeights & { quantization: QuantizationConfig | null } {
  const config = readDenseConfig(dir);
  const raw = parseJsonStrict(readInputText(join(dir, 'config.json'), MAX_MODEL_CONFIG_BYTES)) as Record<string, unknown>;
  const file = readFile(dir);
  const tensors = floatTensors(file);
  if (raw.quantization_config === undefined) return { config, tensors, quantization: null };
  const parsed = QuantizationConfig.safeParse(raw.quantization_config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelLoadError(`model: ${echo(dir)}/config.json: quantization_config.${issue.path.join('.')}: ${issue.message}`);
  }
  const shapes = new Map(denseModules(config).map((m) => [m.tensor, m]));
  for (const [name, mod] of Object.entries(parsed.data.modules)) {
    const shape = shapes.get(name);
    if (!shape || shape.outFeatures !== mod.out_features || shape.inFeatures !== mod.in_features) {
      throw new ModelLoadError(`model: ${echo(dir)}/config.json: quantization_config.modules.${name} does not match a linear module of this config`);
    }
    tensors.set(name, dequantize(storedModule(file.tensors, name, mod, dir)));
  }
  return { config, tensors, quantization: parsed.data };
}

/** The dense proxy (or a quantized artifact of it) in `dir`, ready to run. */
export function loadDenseModel(dir: string): DenseModel {
  return new DenseModel(loadDenseWeights(dir));
}
