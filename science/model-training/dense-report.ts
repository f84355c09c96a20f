// After training: measures the dense proxy on held-out text and retrieval probes, prints the result
// and saves it next to the weights (artifacts/dense-proxy/training-report.json).
//   node --import tsx science/model-training/dense-report.ts [dir] [--write-readme]
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReadmeBlocks } from '../../scripts/readme-blocks.js';
import { DENSE_REPORT_BLOCK, DENSE_REPORT_COMMAND, denseReportReadme, measureDenseReport, writeDenseReport } from './dense-training-report.js';

const args = process.argv.slice(2);
const writeReadme = args.includes('--write-readme');
const unknown = args.find((a) => a.startsWith('--') && a !== '--write-readme');
if (unknown) {
  console.error(`dense-report: unknown option ${unknown}`);
  process.exit(2);
}
const dir = args.find((a) => !a.startsWith('--')) ?? fileURLToPath(new URL('../../artifacts/dense-proxy', import.meta.url));
if (!existsSync(join(dir, 'model.safetensors'))) {
  console.error(`dense-report: dir: no model.safetensors in ${dir}`);
  process.exit(2);
}
const report = await measureDenseReport(dir);
writeDenseReport(dir, report);
if (writeReadme) writeReadmeBlocks([{ name: DENSE_REPORT_BLOCK, command: DENSE_REPORT_COMMAND, body: denseReportReadme(report) }]);
console.log(denseReportReadme(report));
