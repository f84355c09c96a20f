// The serving context of an evolution's target: its stack's table (default vllm) and its GPU,
// what the proposer's operators consult to produce children the stack can serve.
import { getHardwareProfile } from '../../science/hardware/profiles.js';
import { getServingStack } from '../../science/serving-stacks/index.js';
import type { EvolutionTarget } from '../../schema/evolution-config.js';
import { DEFAULT_STACK } from '../../schema/serving-stack.js';
import type { ServingContext } from './techniques.js';

export function servingContext(target: Pick<EvolutionTarget, 'stack' | 'hardware'>): ServingContext {
  return { table: getServingStack(target.stack ?? DEFAULT_STACK), hw: getHardwareProfile(target.hardware) };
}
