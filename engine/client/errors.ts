// Errors of the engine's client library. The CLI maps errors to exit codes by `name`
// (cli/errors.ts): these are all "the request was wrong" and exit 2 with one line.
import { FAILURE_TYPES } from '../../schema/failures.js';

/** An evolution config that does not parse, validate or make sense (unknown model, hardware, …). */
export class InvalidConfigError extends Error {
  override readonly name = FAILURE_TYPES.invalidConfig;
}

/** No evolution workflow with this id. */
export class UnknownEvolutionError extends Error {
  override readonly name = FAILURE_TYPES.unknownEvolution;
  constructor(readonly evolutionId: string) {
    super(`evolution ${evolutionId} not found`);
  }
}

/** A request the engine refused before doing anything: no stack to talk to, an update its validator rejected, a candidate that is not failed. */
export class EngineRequestError extends Error {
  override readonly name = FAILURE_TYPES.engineRequest;
}

export const NO_STACK_MESSAGE = 'no evoquant stack is running (run: evoquant up)';
