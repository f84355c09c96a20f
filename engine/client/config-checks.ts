// Semantic checks of an evolution config, run before anything is started: what zod cannot know
// (the model, the hardware and the recipes exist and compile on the target; the proxy is a model
// directory on disk; some worker can serve the pool). A config that passes here does not fail in
// its first activity for a typo.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { getHardwareProfile, hardwareProfileIds } from '../../science/hardware/profiles.js';
import { readModelDirectory } from '../../science/model/load.js';
import { loadModelConfig } from '../../science/model-configs/load.js';
import { compileTarget } from '../../science/physics/compile.js';
import { builtinRecipe, builtinNamesHint } from '../../science/recipes/builtin.js';
import { echo, echoLine } from '../../schema/echo.js';
import type { EvolutionConfig } from '../../schema/evolution-config.js';
import type { CheckpointModel } from '../../schema/torch-executor.js';
import type { Recipe } from '../../schema/recipe.js';
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

/** A library's message about a user value, made printable (it may echo that value raw). */
const firstLine = (err: unknown): string => echoLine(err instanceof Error ? err.message : String(err));

/**
 * Where the proxy may be. Workers resolve a relative path from *their* repository root (a remote
 * GPU worker has its own checkout), so a relative path must stay inside the repository: `..` that
 * climbs out would name a different place on every machine. A model kept elsewhere is given by an
 * absolute path, which is allowed anywhere, provided the directory holds a proxy model that loads.
 */
export function checkProxyDir(proxy: string, root: string = repoRoot): string {
  if (proxy.includes('\0')) throw new InvalidConfigError('config.proxy: the path holds a NUL character');
  const dir = resolveProxyDir(proxy, root);
  if (!path.isAbsolute(proxy)) {
    const inside = path.relative(root, dir);
    if (inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
      throw new InvalidConfigError(
        `config.proxy: "${echo(proxy)}" climbs out of the repository; a relative proxy path is taken from the repository root (where workers look), so give an absolute path for a model kept elsewhere`,
      );
    }
  }
  if (!existsSync(dir)) throw new InvalidConfigError(`config.proxy: ${echo(dir)} does not exist (train it: npm run model:train)`);
  if (!statSync(dir).isDirectory()) throw new InvalidConfigError(`config.proxy: ${echo(dir)} is not a directory`);
  try {
    readModelDirectory(dir);
  } catch (err) {
    throw new InvalidConfigError(`config.proxy: ${echo(dir)} is not a proxy model directory (${echo(firstLine(err).replace(/^model: /, ''), 160)})`);
  }
  return dir;
}

/** A relative path as workers resolve it, refused when `..` climbs out of the repository (see checkProxyDir). */
function insideRepository(field: string, given: string, root: string): string {
  if (given.includes('\0')) throw new InvalidConfigError(`${field}: the path holds a NUL character`);
  const abs = path.isAbsolute(given) ? given : path.join(root, given);
  if (!path.isAbsolute(given)) {
    const inside = path.relative(root, abs);
    if (inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
      throw new InvalidConfigError(`${field}: "${echo(given)}" climbs out of the repository; relative paths are taken from the repository root (where workers look), so give an absolute path`);
    }
  }
  return abs;
}

/**
 * The checkpoint an evolution measures on (torch executor): a directory with a config.json and
 * safetensors weights, and text files that exist and are not empty. Whether its tensors load
 * strictly is the executor's check (InvalidCheckpoint, final) on the first candidate.
 */
export function checkCheckpointModel(model: CheckpointModel, root: string = repoRoot): string {
  const field = 'config.evaluation.model.checkpoint';
  const dir = insideRepository(field, model.checkpoint, root);
  if (!existsSync(dir)) throw new InvalidConfigError(`${field}: ${echo(dir)} does not exist`);
  if (!statSync(dir).isDirectory()) throw new InvalidConfigError(`${field}: ${echo(dir)} is not a directory`);
  if (!existsSync(path.join(dir, 'config.json'))) throw new InvalidConfigError(`${field}: ${echo(dir)} holds no config.json (a Hugging Face checkpoint directory is expected)`);
  if (!readdirSync(dir).some((f) => f.endsWith('.safetensors'))) throw new InvalidConfigError(`${field}: ${echo(dir)} holds no .safetensors weights`);
  for (const [key, files] of [['calibrationText', model.calibrationText], ['evaluationText', model.evaluationText]] as const) {
    (files ?? []).forEach((file, i) => {
      const f = `config.evaluation.model.${key}[${i}]`;
      const abs = insideRepository(f, file, root);
      if (!existsSync(abs)) throw new InvalidConfigError(`${f}: ${echo(abs)} does not exist`);
      const st = statSync(abs);
      if (!st.isFile()) throw new InvalidConfigError(`${f}: ${echo(abs)} is not a file`);
      if (st.size === 0) throw new InvalidConfigError(`${f}: ${echo(abs)} is empty`);
    });
  }
  return dir;
}

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
  // Every seed recipe, builtin or inline, gets what `evoquant compile` gives it on this target: a
  // recipe compile refuses (an override that makes an impossible spec) must not start an evolution.
  const compiled = new Set<Recipe>();
  config.seedRecipes.forEach((entry, i) => {
    const recipe = typeof entry === 'string' ? builtinRecipe(entry) : entry;
    if (recipe === undefined) {
      throw new InvalidConfigError(`config.seedRecipes[${i}]: unknown builtin recipe "${echo(entry)}" (${builtinNamesHint(String(entry))})`);
    }
    if (compiled.has(recipe)) return;
    try {
      compileTarget({ model: target.model, hardware: target.hardware, gpus: target.gpus, tensorParallel: tp, contextLength: target.context, batch: target.batch, stack: target.stack }, recipe);
    } catch (err) {
      // Only InvalidRecipe is the recipe's fault; anything else is the target's (or a bug: exit 1).
      if (!(err instanceof Error) || err.name !== 'InvalidRecipe') throw err;
      throw new InvalidConfigError(`config.seedRecipes[${i}]: compile refuses it on the target: ${firstLine(err)}`);
    }
    compiled.add(recipe);
  });
  // Quantize/evaluate wait on gpu-<pool> until a worker comes; none ever will for a class without a profile.
  const pool = config.pool ?? target.hardware;
  if (!knownPools().includes(pool)) {
    const field = config.pool === undefined ? 'config.target.hardware (the default pool)' : 'config.pool';
    throw new InvalidConfigError(`${field}: no worker serves pool "${echo(pool)}" (known: ${knownPools().join(', ')})`);
  }
  checkProxyDir(config.proxy, options.root);
  if (config.evaluation.model !== undefined) {
    checkCheckpointModel(config.evaluation.model, options.root);
    if (pool === 'cpu' && config.evaluation.model.device === 'cuda') {
      throw new InvalidConfigError('config.evaluation.model.device: cuda on the cpu pool, whose workers have no GPU (leave device out, or choose a GPU pool)');
    }
  }
}
