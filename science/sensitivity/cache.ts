// Sensitivity profiles are measured once per (model, settings) and cached on disk as JSON, in a
// directory the caller names (the science core knows nothing of the engine's state dir).
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProxyWeights } from '../model/forward.js';
import { SensitivityProfile } from '../../schema/sensitivity.js';
import { measureSensitivity, type SensitivityOptions } from './measure.js';

export async function cachedSensitivity(
  cacheDir: string,
  weights: ProxyWeights,
  modelHash: string,
  corpus: Uint8Array,
  options: SensitivityOptions = {},
): Promise<{ profile: SensitivityProfile; cached: boolean }> {
  const { onProgress, ...settings } = options;
  const key = createHash('sha256').update(JSON.stringify({ modelHash, corpus: corpus.length, settings })).digest('hex').slice(0, 24);
  const path = join(cacheDir, `sensitivity-${key}.json`);
  if (existsSync(path)) {
    const parsed = SensitivityProfile.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (parsed.success && parsed.data.modelHash === modelHash) return { profile: parsed.data, cached: true };
  }
  const profile = await measureSensitivity(weights, modelHash, corpus, { ...settings, onProgress });
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${path}.tmp-${randomUUID()}`;
  writeFileSync(tmp, JSON.stringify(profile));
  renameSync(tmp, path);
  return { profile, cached: false };
}
