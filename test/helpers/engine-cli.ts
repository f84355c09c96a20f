// Runs the CLI as a child process against one test's services (async, unlike helpers/cli.ts's runCli,
// so the test process keeps serving its own event loop meanwhile).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../engine/stack/paths.js';
import type { EngineEnv } from './engine-env.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin/evoquant.mjs args…` against the test's services (TEMPORAL_ADDRESS / DATABASE_URL). */
export async function runEngineCli(env: EngineEnv, args: string[], timeoutMs = 120_000): Promise<CliRun> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'evoquant.mjs'), ...args], {
    cwd: repoRoot,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.temporalAddress,
      TEMPORAL_NAMESPACE: env.namespace,
      DATABASE_URL: env.databaseUrl,
      EVOQUANT_HOME: env.home,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}
