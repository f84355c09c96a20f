// Runs the CLI as a child process against one test's services (async, unlike helpers/cli.ts's runCli,
// so the test process keeps serving its own event loop meanwhile).
import { repoRoot } from '../../engine/stack/paths.js';
import { spawnCli, type CliRun } from './cli.js';
import type { EngineEnv } from './engine-env.js';

/** Runs `bin/evoquant.mjs args…` against the test's services (TEMPORAL_ADDRESS / DATABASE_URL). */
export function runEngineCli(env: EngineEnv, args: string[], timeoutMs = 120_000): Promise<CliRun> {
  return spawnCli(args, {
    cwd: repoRoot,
    timeoutMs,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.temporalAddress,
      TEMPORAL_NAMESPACE: env.namespace,
      DATABASE_URL: env.databaseUrl,
      EVOQUANT_HOME: env.home,
    },
  });
}
