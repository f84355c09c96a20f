// Which exporter writes each format. Loaded on demand: an export loads only its own format's code.
import type { ExportFormat, Exporter } from './export-format.js';

export const EXPORTERS: Record<ExportFormat, () => Promise<Exporter>> = {
  'compressed-tensors': async () => (await import('./compressed-tensors/index.js')).exportCompressedTensors,
  gptqmodel: async () => (await import('./gptqmodel.js')).exportGptqModel,
  llmcompressor: async () => (await import('./llmcompressor.js')).exportLlmCompressor,
  'llama.cpp': async () => (await import('./llama-cpp.js')).exportLlamaCpp,
};

export function exporterFor(format: ExportFormat): Promise<Exporter> {
  return EXPORTERS[format]();
}
