// The serving context of an evolution's target: its stack's table (default vllm), its GPU and the
// roles its model has, what the proposer's operators consult to produce children the stack serves.
import { getHardwareProfile } from '../../science/hardware/profiles.js';
import { loadModelConfig } from '../../science/model-configs/load.js';
import { enumerateModules } from '../../science/physics/modules.js';
import { getServingStack } from '../../science/serving-stacks/index.js';
import type { EvolutionTarget } from '../../schema/evolution-config.js';
import { DEFAULT_STACK } from '../../schema/serving-stack.js';
import type { ServingContext } from './techniques.js';

export function servingContext(target: Pick<EvolutionTarget, 'stack' | 'hardware'> & Partial<Pick<EvolutionTarget, 'model'>>): ServingContext {
  const table = getServingStack(target.stack ?? DEFAULT_STACK);
  const hw = getHardwareProfile(target.hardware);
  if (target.model === undefined) return { table, hw };
  return { table, hw, roles: new Set(enumerateModules(loadModelConfig(target.model)).map((m) => m.role)) };
}
