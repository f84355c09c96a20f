// JSON.parse for user files that refuses "__proto__" keys: they are never meaningful in a config,
// and an object copy made from such a file (spread, Object.assign) would change its prototype.
import { FAILURE_TYPES } from '../../schema/failures.js';

export class ForbiddenKeyError extends Error {
  override readonly name = FAILURE_TYPES.forbiddenKey;
}

export function parseJsonStrict(text: string): unknown {
  return JSON.parse(text, function (key, value: unknown) {
    if (key === '__proto__') throw new ForbiddenKeyError('key "__proto__" is not allowed');
    return value;
  });
}
