// Why export refuses: the target stack's table refuses the recipe, or the format cannot express it.
import { FAILURE_TYPES } from '../../schema/failures.js';

/** Bad input for export (exit 2): names the rule or the format limit that refuses the recipe. */
export class ExportRefusedError extends Error {
  override readonly name = FAILURE_TYPES.exportRefused;
}
