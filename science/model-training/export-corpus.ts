// Writes the Brown train / held-out splits as raw bytes for the Python trainer.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBrown } from '../corpus/brown.js';

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: export-corpus.ts <out-dir>');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const splits = loadBrown();
writeFileSync(join(outDir, 'train.bin'), splits.train);
writeFileSync(join(outDir, 'heldout.bin'), splits.heldOut);
console.log(`train ${splits.train.length} bytes (${splits.trainDocuments} docs), held-out ${splits.heldOut.length} bytes (${splits.heldOutDocuments} docs)`);
