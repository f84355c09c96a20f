// After training: measures the proxy on held-out text, prints the result and saves it next to the
// weights (artifacts/proxy/training-report.json). --write-readme also rewrites README.md's block.
//   node --import tsx science/model-training/report.ts [dir] [--write-readme]
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReadmeBlocks } from '../../scripts/readme-blocks.js';
import { PROXY_REPORT_BLOCK, PROXY_REPORT_COMMAND, measureTrainingReport, trainingReportReadme, writeTrainingReport } from './training-report.js';

const args = process.argv.slice(2);
const writeReadme = args.includes('--write-readme');
const unknown = args.find((a) => a.startsWith('--') && a !== '--write-readme');
if (unknown) {
  console.error(`report: unknown option ${unknown}`);
  process.exit(2);
}
const dir = args.find((a) => !a.startsWith('--')) ?? fileURLToPath(new URL('../../artifacts/proxy', import.meta.url));
if (!existsSync(join(dir, 'model.safetensors'))) {
  console.error(`report: dir: no model.safetensors in ${dir}`);
  process.exit(2);
}
const report = await measureTrainingReport(dir);
writeTrainingReport(dir, report);
if (writeReadme) writeReadmeBlocks([{ name: PROXY_REPORT_BLOCK, command: PROXY_REPORT_COMMAND, body: trainingReportReadme(report) }]);
console.log(`held-out: ${report.bitsPerByte.toFixed(3)} bits/byte (unigram byte model ${report.unigramBitsPerByte.toFixed(3)}), top-1 ${(100 * report.top1).toFixed(1)}% over ${report.heldOutBytes} bytes`);
console.log('routing share per expert (each layer sums to 1):');
report.expertFrequency.forEach((layer, l) => console.log(`  layer ${l}: ${layer.map((f) => f.toFixed(3)).join(' ')}`));
