// The formats `evoquant export` writes, and the contract every exporter implements. An exporter
// reads one quantized proxy directory (written by `evoquant quantize`) and writes files that a
// real tool loads; it never runs on a recipe its stack refuses (export checks that first).
import { z } from 'zod';

export const EXPORT_FORMATS = ['compressed-tensors', 'gptqmodel', 'llmcompressor', 'llama.cpp'] as const;
export const ExportFormat = z.enum(EXPORT_FORMATS, { error: `format must be one of ${EXPORT_FORMATS.join(', ')}` });
export type ExportFormat = z.infer<typeof ExportFormat>;

/** One file an exporter produces, relative to the output directory. */
export interface ExportedFile {
  path: string;
  bytes: Uint8Array;
}

export interface ExportRequest {
  /** The quantized proxy directory (config.json + model.safetensors with an evoquant quantization_config). */
  quantizedDir: string;
}

/** Every exporter returns its files; the caller writes them atomically into the output directory. */
export type Exporter = (request: ExportRequest) => ExportedFile[] | Promise<ExportedFile[]>;
