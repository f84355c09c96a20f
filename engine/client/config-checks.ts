// Semantic checks of an evolution config, run before anything is started: what zod cannot know
// (the model, the hardware and the recipes exist; the proxy is on disk; some worker can serve the
// pool). A config that passes here does not fail in its first activity for a typo.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { getHardwareProfile, hardwareProfileIds } from '../../science/hardware/profiles.js';
import { loadModelConfig } from '../../science/model-configs/load.js';
import { builtinRecipe, builtinRecipeNames } from '../../science/recipes/builtin.js';
import type { EvolutionConfig } from '../../schema/evolution-config.js';
import { repoRoot } from '../stack/paths.js';
import { InvalidConfigError } from './errors.js';

/** The pool a GPU worker may serve: the reference executor or a known hardware class. */
export function knownPools(): string[] {
  return ['cpu', ...hardwareProfileIds()];
}

/** The proxy directory as workers resolve it: relative paths from the repository root. */
export function resolveProxyDir(proxy: string, root: string = repoRoot): string {
  return path.isAbsolute(proxy) ? proxy : path.join(root, proxy);
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';

/** Throws InvalidConfigError naming the first field that cannot work. */
export function checkEvolutionConfig(config: EvolutionConfig, options: { root?: string } = {}): void {
  const { target } = config;
  try {
    loadModelConfig(target.model);
  } catch (err) {
    throw new InvalidConfigError(`config.target.model: ${firstLine(err).replace(/^model: /, '')}`);
  }
  try {
    getHardwareProfile(target.hardware);
  } catch (err) {
    throw new InvalidConfigError(`config.target.hardware: ${firstLine(err).replace(/^hardware: /, '')}`);
  }
  const tp = target.tensorParallel ?? target.gpus;
  if (tp > target.gpus || target.gpus % tp !== 0) {
    throw new InvalidConfigError(`config.target.tensorParallel: ${tp} must divide gpus ${target.gpus} (gpus = tensorParallel × pipeline stages)`);
  }
  config.seedRecipes.forEach((entry, i) => {
    if (typeof entry === 'string' && builtinRecipe(entry) === undefined) {
      throw new InvalidConfigError(`config.seedRecipes[${i}]: unknown builtin recipe "${entry}" (known: ${builtinRecipeNames().join(', ')})`);
    }
  });
  // Quantize/evaluate wait on gpu-<pool> until a worker comes; none ever will for a class without a profile.
  const pool = config.pool ?? target.hardware;
  if (!knownPools().includes(pool)) {
    const field = config.pool === undefined ? 'config.target.hardware (the default pool)' : 'config.pool';
    throw new InvalidConfigError(`${field}: no worker serves pool "${pool}" (known: ${knownPools().join(', ')})`);
  }
  const proxyDir = resolveProxyDir(config.proxy, options.root);
  if (!existsSync(proxyDir)) throw new InvalidConfigError(`config.proxy: ${proxyDir} does not exist (train it: npm run model:train)`);
  if (!statSync(proxyDir).isDirectory()) throw new InvalidConfigError(`config.proxy: ${proxyDir} is not a directory`);
}
