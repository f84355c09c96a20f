// Bundles the workflow code once and caches it on disk by content, so starting a worker (or a
// test's fifth worker) skips webpack.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { repoRoot, stateDir } from '../stack/paths.js';

export const WORKFLOWS_PATH = join(repoRoot, 'workflows', 'index.ts');

function sourceHash(): string {
  const h = createHash('sha256');
  for (const dir of ['workflows', 'schema']) {
    for (const f of readdirSync(join(repoRoot, dir)).filter((x) => x.endsWith('.ts')).sort()) {
      h.update(f).update(readFileSync(join(repoRoot, dir, f)));
    }
  }
  h.update(readFileSync(join(repoRoot, 'node_modules', '@temporalio', 'workflow', 'package.json')));
  return h.digest('hex').slice(0, 20);
}

/** Path of the bundled workflow code, building it when the sources changed. */
export async function workflowBundlePath(): Promise<string> {
  const dir = join(stateDir(), 'cache');
  const path = join(dir, `workflow-bundle-${sourceHash()}.js`);
  if (existsSync(path)) return path;
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: undefined });
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, code);
  renameSync(tmp, path);
  return path;
}
