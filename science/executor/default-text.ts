// The shipped default calibration and evaluation text of the torch executor: the Brown corpus's
// train and held-out splits (science/corpus/brown.ts, the proxy's own), exported once as UTF-8
// files into a cache directory, so the Python side reads the very bytes the reference executor does.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBrown } from '../corpus/brown.js';

export interface DefaultTexts {
  calibration: string;
  evaluation: string;
}

function exportOnce(path: string, bytes: () => Uint8Array): string {
  if (existsSync(path)) return path;
  // tmp + rename: a worker killed mid-write never leaves a short file another one would trust.
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, bytes());
  renameSync(tmp, path);
  return path;
}

/** Absolute paths of the Brown train (calibration) and held-out (evaluation) text under `cacheDir`. */
export function defaultTexts(cacheDir: string): DefaultTexts {
  const dir = join(cacheDir, 'text');
  mkdirSync(dir, { recursive: true });
  return {
    calibration: exportOnce(join(dir, 'brown-train.txt'), () => loadBrown().train),
    evaluation: exportOnce(join(dir, 'brown-held-out.txt'), () => loadBrown().heldOut),
  };
}
