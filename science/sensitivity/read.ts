// A sensitivity profile given as a file (measured elsewhere, or kept): validated and tied to the
// model it was measured on, so a profile of another model never prices an allocation.
import { describeIssue } from '../../schema/issues.js';
import { SensitivityProfile } from '../../schema/sensitivity.js';
import { parseJsonStrict } from '../input-files/json.js';
import { InputFileError, readInputText } from '../input-files/read.js';

const MAX_PROFILE_BYTES = 64 * 1024 * 1024;

export function readSensitivityProfile(path: string, modelHash: string, field = 'profile'): SensitivityProfile {
  let raw: unknown;
  try {
    raw = parseJsonStrict(readInputText(path, MAX_PROFILE_BYTES));
  } catch (err) {
    if (err instanceof SyntaxError) throw new InputFileError(`${field}: not JSON (${err.message})`);
    if (err instanceof Error) err.message = `${field}: ${err.message}`;
    throw err;
  }
  const parsed = SensitivityProfile.safeParse(raw);
  if (!parsed.success) throw new InputFileError(describeIssue(parsed.error.issues[0], { root: field, brackets: false }));
  if (parsed.data.modelHash !== modelHash) {
    throw new InputFileError(`${field}: measured on model ${parsed.data.modelHash.slice(0, 12)}…, not on the proxy (${modelHash.slice(0, 12)}…)`);
  }
  return parsed.data;
}
