// Reads the seed graph (patterns.yaml, platforms.yaml, innovations.yaml beside this file) through the
// strict input-file reader, validates it with zod, and checks what zod cannot see one record at a
// time: unique ids, every edge endpoint known, derivation acyclic and never newer-from-older,
// operators that exist. A broken seed is one line naming the file and the record at fault.
import { fileURLToPath } from 'node:url';
import { FAILURE_TYPES } from '../../../schema/failures.js';
import { describeIssue } from '../../../schema/issues.js';
import { InnovationSeed, Platform, PatternDescription, Innovation, type InnovationSeed as Seed } from '../../../schema/innovation.js';
import { readStructuredFile } from '../../../science/input-files/structured-file.js';
import { TECHNIQUES } from '../../proposer/techniques.js';
import { derivationCycle } from './cycle.js';
import { z } from 'zod';

export const SEED_DIR = fileURLToPath(new URL('.', import.meta.url));

export class InvalidInnovationSeedError extends Error {
  override readonly name = FAILURE_TYPES.invalidInnovationSeed;
}

function readList<T>(dir: string, file: string, item: z.ZodType<T>): T[] {
  const path = `${dir}/${file}`;
  const data = readStructuredFile(path, { label: file, format: 'yaml', fail: (m) => new InvalidInnovationSeedError(m) });
  const parsed = z.array(item).safeParse(data);
  if (!parsed.success) throw new InvalidInnovationSeedError(`${describeIssue(parsed.error.issues[0], { root: file, brackets: true })}`);
  return parsed.data;
}

/** The seed's cross-record rules; throws on the first one broken. */
export function checkSeed(seed: Seed): Seed {
  const fail = (m: string): never => {
    throw new InvalidInnovationSeedError(m);
  };
  const platforms = new Map<string, Platform>();
  for (const p of seed.platforms) {
    if (platforms.has(p.id)) fail(`platforms.yaml: platform ${p.id} appears twice`);
    platforms.set(p.id, p);
  }
  for (const p of seed.platforms) for (const r of p.requires) if (!platforms.has(r)) fail(`platforms.yaml: ${p.id} requires unknown platform ${r}`);
  const byId = new Map<string, Innovation>();
  for (const n of seed.innovations) {
    if (byId.has(n.id)) fail(`innovations.yaml: innovation ${n.id} appears twice`);
    byId.set(n.id, n);
  }
  const operators = new Set(TECHNIQUES.map((t) => t.id));
  for (const n of seed.innovations) {
    for (const d of n.derivedFrom) {
      const parent = byId.get(d.from);
      if (!parent) fail(`innovations.yaml: ${n.id} derives from unknown innovation ${d.from}`);
      else if (parent.year > n.year) fail(`innovations.yaml: ${n.id} (${n.year}) cannot derive from the later ${parent.id} (${parent.year})`);
    }
    for (const r of n.requires) if (!platforms.has(r)) fail(`innovations.yaml: ${n.id} requires unknown platform ${r}`);
    for (const o of n.operators) if (!operators.has(o)) fail(`innovations.yaml: ${n.id} names unknown operator ${o} (known: ${[...operators].join(', ')})`);
  }
  const patterns = seed.patterns.map((p) => p.id);
  if (new Set(patterns).size !== patterns.length) fail('patterns.yaml: a pattern appears twice');
  const cycle = derivationCycle(seed.innovations);
  if (cycle) fail(`innovations.yaml: derivation cycle ${cycle.join(' → ')}`);
  return seed;
}

/** The whole seed from `dir` (default: the committed one), validated. */
export function loadInnovationSeed(dir: string = SEED_DIR): Seed {
  const seed = InnovationSeed.parse({
    patterns: readList(dir, 'patterns.yaml', PatternDescription),
    platforms: readList(dir, 'platforms.yaml', Platform),
    innovations: readList(dir, 'innovations.yaml', Innovation),
  });
  return checkSeed(seed);
}

let cached: Seed | null = null;
/** The committed seed, read once per process. */
export function innovationSeed(): Seed {
  cached ??= loadInnovationSeed();
  return cached;
}
