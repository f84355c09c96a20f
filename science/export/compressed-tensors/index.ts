// PLACEHOLDER on branch h/textexport only: the compressed-tensors exporter is written on branch
// h/ctexport, and this file is replaced by that branch's science/export/compressed-tensors/index.ts
// on merge. It exists so that the export registry typechecks here.
import type { Exporter } from '../export-format.js';

export const exportCompressedTensors: Exporter = () => {
  throw new Error('not merged yet: the compressed-tensors exporter lives on branch h/ctexport');
};
