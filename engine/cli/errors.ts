// Maps errors to the CLI's contract: bad input prints one line and exits 2; anything else exits 1.
import { oneLine } from './output.js';
import { BAD_INPUT_FAILURES, FAILURE_TYPES } from '../../schema/failures.js';

/** Raised by CLI argument checks that commander cannot express. */
export class UsageError extends Error {
  override readonly name = FAILURE_TYPES.usage;
}

/** Error names that mean "the input was wrong", wherever in the libraries they are thrown. */
const BAD_INPUT: ReadonlySet<string> = new Set(BAD_INPUT_FAILURES);

export function isBadInput(err: unknown): err is Error {
  return err instanceof Error && BAD_INPUT.has(err.name);
}

/** Every message printed goes through oneLine(): its first line, no control characters, no huge echo. */
export function reportAndExit(err: unknown): never {
  if (isBadInput(err)) {
    process.stderr.write(`evoquant: ${oneLine(err.message)}\n`);
    process.exit(2);
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`evoquant: ${oneLine(e.message)}\n`);
  if (process.env.EVOQUANT_DEBUG) process.stderr.write(`${e.stack ?? ''}\n`);
  process.exit(1);
}
