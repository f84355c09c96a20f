// The agents' activities, served on the control queue next to propose/compile/record.
import { createArchitect, type ArchitectDeps } from './architect.js';
import { createCritic } from './critic.js';
import { createCurator } from './curator.js';
import { createDiscoveryActivities } from './discoveries.js';
import { createPhysicist } from './physicist.js';
import { createScout } from './scout.js';

export type AgentDeps = ArchitectDeps;

export function createAgentActivities(deps: AgentDeps) {
  return {
    ...createScout(deps),
    ...createArchitect(deps),
    ...createPhysicist(deps),
    ...createCritic(deps),
    ...createCurator(deps),
    ...createDiscoveryActivities(deps),
  };
}
