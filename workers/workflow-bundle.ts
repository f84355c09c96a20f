// Bundles the workflow code once and caches it on disk by content, so starting a worker (or a
// test's fifth worker) skips webpack. Quietly: a user should see the evolution, not webpack's report.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogLevel, Logger } from '@temporalio/common';
import { bundleWorkflowCode } from '@temporalio/worker';
import { repoRoot, stateDir } from '../engine/stack/paths.js';

export const WORKFLOWS_PATH = join(repoRoot, 'workflows', 'index.ts');

/** Folders whose code the bundle can contain (workflows import pure helpers from schema/ and evolution/). */
const BUNDLED_DIRS = ['workflows', 'schema', 'evolution'];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(repoRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => join(dir, f));
}

function sourceHash(): string {
  const h = createHash('sha256');
  for (const file of BUNDLED_DIRS.flatMap(sourceFiles)) h.update(file).update(readFileSync(join(repoRoot, file)));
  // Dependency versions too: zod and the SDK run inside the workflow sandbox.
  h.update(readFileSync(join(repoRoot, 'package-lock.json')));
  return h.digest('hex').slice(0, 20);
}

/**
 * The bundler logs webpack's whole report at info (at error when the build fails) and a size line:
 * keep errors and warnings on stderr, drop the rest.
 */
export const quietBundlerLogger: Logger = {
  log(level: LogLevel, message: string) {
    if (level === 'ERROR' || level === 'WARN') process.stderr.write(`workflow bundle ${level.toLowerCase()}: ${message}\n`);
  },
  trace() {},
  debug() {},
  info() {},
  warn(message: string) {
    this.log('WARN', message);
  },
  error(message: string) {
    this.log('ERROR', message);
  },
};

/** Bundled code of the workflows at `workflowsPath`; webpack's errors go to stderr and reject. */
export async function bundleWorkflows(workflowsPath: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
  return code;
}

/** Path of the bundled workflow code, building it when the sources changed. */
export async function workflowBundlePath(): Promise<string> {
  const dir = join(stateDir(), 'cache');
  const path = join(dir, `workflow-bundle-${sourceHash()}.js`);
  if (existsSync(path)) return path;
  const code = await bundleWorkflows(WORKFLOWS_PATH);
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${randomUUID()}`;
  writeFileSync(tmp, code);
  renameSync(tmp, path);
  return path;
}
