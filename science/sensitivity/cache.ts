// Sensitivity profiles are measured once per (model, settings) and cached on disk as JSON, in a
// directory the caller names (the science core knows nothing of the engine's state dir).
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import type { ProxyWeights } from '../model/forward.js';
import { SensitivityProfile } from '../../schema/sensitivity.js';
import { measureSensitivity, type SensitivityOptions } from './measure.js';

/**
 * The profile cached under `prefix` and a hash of `key`, or a fresh measurement written there
 * atomically (a reader never sees half a file). A cached file for another model is measured again.
 */
export async function cachedProfile<S extends z.ZodType<{ modelHash: string }>>(
  cacheDir: string,
  prefix: string,
  key: unknown,
  schema: S,
  modelHash: string,
  measure: () => Promise<z.infer<S>>,
): Promise<{ profile: z.infer<S>; cached: boolean }> {
  const digest = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 24);
  const path = join(cacheDir, `${prefix}-${digest}.json`);
  if (existsSync(path)) {
    const parsed = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (parsed.success && parsed.data.modelHash === modelHash) return { profile: parsed.data, cached: true };
  }
  const profile = await measure();
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${path}.tmp-${randomUUID()}`;
  writeFileSync(tmp, JSON.stringify(profile));
  renameSync(tmp, path);
  return { profile, cached: false };
}

export function cachedSensitivity(
  cacheDir: string,
  weights: ProxyWeights,
  modelHash: string,
  corpus: Uint8Array,
  options: SensitivityOptions = {},
): Promise<{ profile: SensitivityProfile; cached: boolean }> {
  const { onProgress, ...settings } = options;
  return cachedProfile(cacheDir, 'sensitivity', { modelHash, corpus: corpus.length, settings }, SensitivityProfile, modelHash, () =>
    measureSensitivity(weights, modelHash, corpus, { ...settings, onProgress }),
  );
}
