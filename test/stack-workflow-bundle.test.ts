// Bundling the workflows is silent (a user watches the evolution, not webpack's report), but a
// broken workflow still shows webpack's error and fails.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { repoRoot } from '../engine/stack/paths.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const run = promisify(execFile);
const home = makeTempDir('bundle');
test.after.always(() => removeTempDir(home));

/** bundleWorkflows in a fresh process, so that everything it prints is captured. */
function bundle(workflowsPath: string): Promise<{ stdout: string; stderr: string }> {
  const script = `const m = await import(${JSON.stringify(path.join(repoRoot, 'workers', 'workflow-bundle.ts'))});
const code = await m.bundleWorkflows(process.argv[1]);
if (code.length < 1000) throw new Error('bundle too small');`;
  return run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, workflowsPath], {
    cwd: repoRoot,
    env: { ...process.env, EVOQUANT_HOME: home },
    timeout: 240_000,
  });
}

test.serial('the workflows bundle without a word on stdout or stderr', async (t) => {
  const { stdout, stderr } = await bundle(path.join(repoRoot, 'workflows', 'index.ts'));
  t.is(stdout, '');
  t.is(stderr, '');
});

test.serial('a bundling error is still shown, and fails', async (t) => {
  const broken = path.join(home, 'broken-workflows.ts');
  writeFileSync(broken, "import { nothing } from './no-such-module';\nexport async function wf(): Promise<void> { nothing(); }\n");
  const err = await t.throwsAsync(bundle(broken));
  const stderr = (err as { stderr?: string } | undefined)?.stderr ?? '';
  t.regex(stderr, /workflow bundle error: .*no-such-module/s);
  t.regex(stderr, /Webpack finished with errors/);
});
