// Checks shared by the compression commands (quantize, eval, baselines), run before any work starts.
// Library errors that mean "bad input" but carry a library name become UsageError (exit 2, one line).
import { loadBrown } from '../../science/corpus/brown.js';
import { maxCalibrationTokens } from '../../science/compression/calibration.js';
import { HELD_OUT_SEQ, maxHeldOutTokens } from '../../science/evaluation/held-out.js';
import { checkOutputTarget, UnsafeOutputError, type OutputTarget, type ProtectedPath } from '../../science/output-dir/target.js';
import type { ProxyConfig } from '../../schema/proxy-config.js';
import { UsageError } from './errors.js';

/** Runs fn, turning an UnsafeOutputError into the CLI's UsageError. */
export function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof UnsafeOutputError) throw new UsageError(err.message);
    throw err;
  }
}

export function checkOut(out: string, force: boolean, protect: ProtectedPath[]): OutputTarget {
  return asUsage(() => checkOutputTarget(out, { flag: '--out', force, protect }));
}

/** A recipe argument that names a file (not builtin:NAME) is protected from being overwritten. */
export function recipeFile(recipe: string): ProtectedPath[] {
  return recipe.startsWith('builtin:') ? [] : [{ path: recipe, what: 'the recipe file (--recipe)' }];
}

/** --tokens of an evaluation: at most the predicted bytes the held-out split holds. */
export function checkEvalTokens(flag: string, tokens: number | undefined): void {
  if (tokens === undefined) return;
  const max = maxHeldOutTokens();
  if (tokens > max) {
    throw new UsageError(
      `${flag}: ${tokens} exceeds the held-out split (${loadBrown().heldOut.length} bytes: at most ${max} predicted bytes in ${HELD_OUT_SEQ}-byte windows)`,
    );
  }
}

/** --calibration-tokens: at most what the training split holds at the model's window length. */
export function checkCalibrationTokens(flag: string, tokens: number | undefined, config: ProxyConfig): void {
  if (tokens === undefined) return;
  const seq = config.max_position_embeddings;
  const bytes = loadBrown().train.length;
  const max = maxCalibrationTokens(bytes, seq);
  if (tokens > max) throw new UsageError(`${flag}: ${tokens} exceeds the training split (${bytes} bytes: at most ${max} tokens in ${seq}-byte windows)`);
}

