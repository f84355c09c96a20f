// Failure names: every error class of the libraries carries a declared name (schema/failures.ts),
// and the GPU activity turns the executor's deterministic errors into non-retryable failures of
// that very name, so no typo can make an error silently retryable.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { ApplicationFailure } from '@temporalio/common';
import { activityFailureOf } from '../activities/gpu.js';
import { isBadInput } from '../engine/cli/errors.js';
import { repoRoot } from '../engine/stack/paths.js';
import {
  BAD_INPUT_FAILURES,
  CONTROL_FINAL_FAILURES,
  EXECUTOR_FINAL_FAILURES,
  FAILURE_TYPES,
  GPU_FINAL_FAILURES,
  isFailureType,
} from '../schema/failures.js';
import { ArtifactMissingError, OutOfDeviceMemoryError } from '../science/executor/errors.js';
import { HessianNotPositiveDefiniteError, MissingCalibrationError, NonFiniteQuantizationError } from '../science/quantization/errors.js';
import { InvalidRecipeError } from '../schema/recipe.js';

/** Folders whose errors cross a boundary by name (to Temporal or to the CLI's exit code). */
const ERROR_HOMES = ['science', 'schema', 'engine/client', 'engine/cli'];

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(repoRoot, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return e.isFile() && e.name.endsWith('.ts') ? [rel] : [];
  });
}

type ErrorClass = new (...args: unknown[]) => Error;

/** Every exported Error subclass of the files that declare one, found by reading the tree. */
async function errorClasses(): Promise<Array<{ file: string; cls: ErrorClass }>> {
  const out: Array<{ file: string; cls: ErrorClass }> = [];
  for (const file of ERROR_HOMES.flatMap(sourceFiles)) {
    if (!/\bextends Error\b/.test(readFileSync(path.join(repoRoot, file), 'utf8'))) continue;
    const mod = (await import(pathToFileURL(path.join(repoRoot, file)).href)) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      if (typeof value === 'function' && value.prototype instanceof Error) out.push({ file, cls: value as ErrorClass });
    }
  }
  return out;
}

/** Class fields set `name`, so it takes an instance; arguments shaped for every constructor here. */
const instance = (cls: ErrorClass): Error => new cls('x', ['y'], 'z');

test('every error class of the libraries carries a declared failure name', async (t) => {
  const classes = await errorClasses();
  // The scan must find the known ones, or it proves nothing.
  for (const known of [OutOfDeviceMemoryError, ArtifactMissingError, MissingCalibrationError, InvalidRecipeError]) {
    t.true(classes.some((c) => c.cls === known), `${known.name} not found by the scan`);
  }
  const undeclared = classes.map(({ file, cls }) => ({ file, cls: cls.name, name: instance(cls).name })).filter((c) => !isFailureType(c.name));
  t.deepEqual(undeclared, [], 'add these names to FAILURE_TYPES in schema/failures.ts');
});

test('declared names are distinct and every policy lists declared names only', (t) => {
  const names = Object.values(FAILURE_TYPES);
  t.is(new Set(names).size, names.length);
  for (const list of [CONTROL_FINAL_FAILURES, GPU_FINAL_FAILURES, EXECUTOR_FINAL_FAILURES, BAD_INPUT_FAILURES]) {
    t.deepEqual(list.filter((n) => !isFailureType(n)), []);
  }
  t.false(isFailureType('InvalidRecipee'));
  // Own values only: a user string naming an Object.prototype member is not a failure type.
  t.false(isFailureType('constructor'));
  t.false(isFailureType('toString'));
});

test('the executor errors reach Temporal as non-retryable failures of their declared name', (t) => {
  const executorErrors: Error[] = [
    new OutOfDeviceMemoryError('needs 105 MiB'),
    new ArtifactMissingError('no artifact'),
    new InvalidRecipeError('recipe.bits: 3'),
    new MissingCalibrationError('gptq', 'layers.0.mlp.experts.1', 'no rows'),
    new NonFiniteQuantizationError('scales', 3, 'layers.0'),
    new HessianNotPositiveDefiniteError(0.1, 'layers.0'),
  ];
  for (const err of executorErrors) {
    const failure = activityFailureOf(err);
    t.true(failure instanceof ApplicationFailure, err.name);
    const af = failure as ApplicationFailure;
    t.is(af.type, err.name);
    t.true(isFailureType(af.type ?? ''), `${af.type} is not declared`);
    t.true(af.nonRetryable, `${err.name} must not be retried`);
    t.is(af.message, err.message);
  }
  // What a typo would do: an undeclared name stays a plain (retryable) error.
  const typo = Object.assign(new Error('bad recipe'), { name: 'InvalidRecipee' });
  t.is(activityFailureOf(typo), typo);
  const plain = new Error('disk hiccup');
  t.is(activityFailureOf(plain), plain);
});

test('the GPU retry policy stops at out-of-memory and invalid recipes, and the CLI reads bad input from the same names', (t) => {
  t.deepEqual([...GPU_FINAL_FAILURES].sort(), [FAILURE_TYPES.invalidRecipe, FAILURE_TYPES.outOfMemory].sort());
  t.true(isBadInput(new InvalidRecipeError('recipe.bits: 3')));
  t.true(isBadInput(new MissingCalibrationError('gptq', undefined, 'no rows')));
  t.false(isBadInput(new OutOfDeviceMemoryError('needs 105 MiB')));
  t.false(isBadInput(Object.assign(new Error('x'), { name: 'InvalidRecipee' })));
});
