// Parameter counts by module role (weights + biases), plus the RMSNorm weights no role owns.
import type { ModelArchitecture } from '../../schema/model-config.js';
import { MODULE_ROLES, type ModuleRole } from '../../schema/recipe.js';
import { enumerateModules, moduleParams, normParameters, type LinearModule } from './modules.js';

export type RoleRecord = Record<ModuleRole, number>;

export function zeroPerRole(): RoleRecord {
  return Object.fromEntries(MODULE_ROLES.map((r) => [r, 0])) as RoleRecord;
}

export interface ParameterCount {
  byRole: RoleRecord;
  /** Linear modules per role (a tied lm_head counts as a module with no stored parameters). */
  modulesByRole: RoleRecord;
  norms: number;
  total: number;
}

export function countParameters(arch: ModelArchitecture, modules: readonly LinearModule[] = enumerateModules(arch)): ParameterCount {
  const byRole = zeroPerRole();
  const modulesByRole = zeroPerRole();
  for (const m of modules) {
    byRole[m.role] += moduleParams(m);
    modulesByRole[m.role] += 1;
  }
  const norms = normParameters(arch).total;
  const total = MODULE_ROLES.reduce((s, r) => s + byRole[r], norms);
  return { byRole, modulesByRole, norms, total };
}
