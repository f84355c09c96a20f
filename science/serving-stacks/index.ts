// The serving-stack tables, validated once at load: an invalid table is a bug, not a user error.
import { FAILURE_TYPES } from '../../schema/failures.js';
import { SERVING_STACKS, ServingStackTable, type ServingStackId } from '../../schema/serving-stack.js';
import { LLAMA_CPP } from './llama-cpp.js';
import { REFERENCE } from './reference.js';
import { VLLM_0_33_0 } from './vllm-0.33.0.js';

export const SERVING_STACK_TABLES: ReadonlyMap<ServingStackId, ServingStackTable> = new Map(
  [REFERENCE, VLLM_0_33_0, LLAMA_CPP].map((t) => {
    const table = ServingStackTable.parse(t);
    return [table.stack, table] as const;
  }),
);

/** A stack name that names no table. */
export class UnknownStackError extends Error {
  override readonly name = FAILURE_TYPES.invalidDeployment;
  readonly field = 'stack';
  constructor(stack: string) {
    super(`stack: unknown serving stack "${stack.slice(0, 60)}" (known: ${SERVING_STACKS.join(', ')})`);
  }
}

export function getServingStack(id: string): ServingStackTable {
  const table = SERVING_STACK_TABLES.get(id as ServingStackId);
  if (!table) throw new UnknownStackError(id);
  return table;
}
