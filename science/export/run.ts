// One export, start to finish: read the quantized proxy, refuse what the target stack cannot serve,
// run the format's exporter, then write its files atomically into an evoquant-marked directory
// (science/output-dir: nothing is written when any step fails, and only evoquant's own output is
// ever replaced).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, isAbsolute, sep } from 'node:path';
import type { ExportFormat, ExportedFile } from './export-format.js';
import { exporterFor } from './exporters.js';
import { readQuantizedModel } from './modules.js';
import { checkServable, type ServabilityCheck, type ServabilityTarget } from './servability.js';
import { writeOutputDirectory } from '../output-dir/write.js';

export interface ExportJob extends ServabilityTarget {
  quantizedDir: string;
  format: ExportFormat;
  /** Checked beforehand with checkOutputTarget. */
  out: string;
  replace: boolean;
}

export interface ExportResult {
  format: ExportFormat;
  stack: ServabilityCheck['stack'];
  checkpoint: ServabilityCheck['checkpoint'];
  recipe: string;
  files: Array<{ path: string; bytes: number }>;
  /** False when another writer created `out` meanwhile (it was left untouched). */
  written: boolean;
}

/** A relative path that stays inside the output directory. */
function insideOut(path: string): string {
  const p = normalize(path);
  if (p === '' || isAbsolute(p) || p === '..' || p.startsWith(`..${sep}`)) throw new Error(`exporter produced a path outside its output directory: ${path}`);
  return p;
}

export async function runExport(job: ExportJob): Promise<ExportResult> {
  const view = readQuantizedModel(job.quantizedDir);
  const check = checkServable(job.quantizedDir, view.recipe, job.format, job);
  const exporter = await exporterFor(job.format);
  const files: ExportedFile[] = await exporter({ quantizedDir: job.quantizedDir });
  const written = writeOutputDirectory(
    job.out,
    (dir) => {
      for (const f of files) {
        const target = join(dir, insideOut(f.path));
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, f.bytes);
      }
    },
    { what: `export-${job.format}`, details: { recipe: view.recipe.name, format: job.format, stack: check.stack, checkpoint: check.checkpoint }, replace: job.replace },
  );
  return {
    format: job.format,
    stack: check.stack,
    checkpoint: check.checkpoint,
    recipe: view.recipe.name,
    files: files.map((f) => ({ path: f.path, bytes: f.bytes.byteLength })),
    written,
  };
}
