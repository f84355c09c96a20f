// Resolution order of the Temporal CLI, exercised with a fake environment (no build, no server),
// and the rule that only `npm test`'s first step may build it, never a test.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { z } from 'zod';
import { repoRoot } from '../engine/stack/paths.js';
import { ENSURE_SCRIPT, findOnPath, installedTemporalCli, resolveTemporalCli } from '../engine/stack/temporal-cli.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { testTemporalCli } from './helpers/temporal.js';

function fakeExecutable(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, 0o755);
  return file;
}

const root = makeTempDir('cli');
test.after.always(() => removeTempDir(root));

const quiet = (): void => undefined;

test('TEMPORAL_CLI wins over PATH and the cache', async (t) => {
  const explicit = fakeExecutable(path.join(root, 'explicit'), 'my-temporal');
  const onPath = path.join(root, 'path1');
  fakeExecutable(onPath, 'temporal');
  const cli = await resolveTemporalCli({
    env: { TEMPORAL_CLI: explicit, PATH: onPath },
    cachePath: fakeExecutable(path.join(root, 'cache1'), 'temporal'),
    log: quiet,
  });
  t.deepEqual(cli, { kind: 'path', path: explicit, source: 'env' });
});

test('a TEMPORAL_CLI that is not executable is an error, not a fallback', async (t) => {
  await t.throwsAsync(resolveTemporalCli({ env: { TEMPORAL_CLI: path.join(root, 'missing'), PATH: '' }, log: quiet }), {
    message: /not an executable/,
  });
});

test('PATH comes before the project cache', async (t) => {
  const onPath = path.join(root, 'path2');
  const expected = fakeExecutable(onPath, 'temporal');
  const cli = await resolveTemporalCli({
    env: { PATH: `${path.join(root, 'empty')}${path.delimiter}${onPath}` },
    cachePath: fakeExecutable(path.join(root, 'cache2'), 'temporal'),
    log: quiet,
  });
  t.deepEqual(cli, { kind: 'path', path: expected, source: 'path' });
  t.is(findOnPath('temporal', { PATH: onPath }), expected);
});

test('the project cache is used when nothing is on PATH', async (t) => {
  const cached = fakeExecutable(path.join(root, 'cache3'), 'temporal');
  const cli = await resolveTemporalCli({ env: { PATH: '' }, cachePath: cached, log: quiet });
  t.deepEqual(cli, { kind: 'path', path: cached, source: 'cache' });
});

test('without go or a build, the marker asks for a download', async (t) => {
  const cli = await resolveTemporalCli({
    env: { PATH: path.join(root, 'empty') },
    cachePath: path.join(root, 'nowhere', 'temporal'),
    downloadDir: path.join(root, 'nowhere'),
    build: false,
    log: quiet,
  });
  t.deepEqual(cli, { kind: 'download' });
});

test('an earlier download is found before any build', async (t) => {
  const downloaded = fakeExecutable(path.join(root, 'download'), 'temporal-sdk-1.2.3');
  const goDir = path.join(root, 'go-bin1');
  const goRan = fakeGo(goDir);
  const options = { env: { PATH: goDir }, cachePath: path.join(root, 'nowhere', 'temporal'), downloadDir: path.join(root, 'download') };
  t.deepEqual(await resolveTemporalCli({ ...options, log: quiet }), { kind: 'path', path: downloaded, source: 'download' });
  t.is(installedTemporalCli(options), downloaded);
  t.false(existsSync(goRan));
});

/** A `go` that only records that it ran. */
function fakeGo(dir: string): string {
  const marker = path.join(dir, 'go-ran');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'go'), `#!/bin/sh\ntouch '${marker}'\nexit 1\n`);
  chmodSync(path.join(dir, 'go'), 0o755);
  return marker;
}

test('the test helper never builds: with no CLI it says to run the ensure script, and go is not run', (t) => {
  const goDir = path.join(root, 'go-bin2');
  const goRan = fakeGo(goDir);
  const options = { env: { PATH: goDir }, cachePath: path.join(root, 'nowhere', 'temporal'), downloadDir: path.join(root, 'nowhere') };
  t.is(installedTemporalCli(options), undefined);
  const err = t.throws(() => testTemporalCli(options));
  t.true(err?.message.includes(ENSURE_SCRIPT), err?.message);
  t.false(existsSync(goRan), 'no go install from a test');
});

test('npm test ensures the CLI once, before ava starts', (t) => {
  const { scripts } = z.object({ scripts: z.record(z.string(), z.string()) }).parse(JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')));
  const steps = (scripts.test ?? '').split('&&').map((s) => s.trim());
  const ensure = steps.indexOf(ENSURE_SCRIPT);
  t.true(ensure >= 0, `npm test runs ${ENSURE_SCRIPT}`);
  t.true(ensure < steps.findIndex((s) => s === 'ava' || s.startsWith('ava ')), 'before ava');
  t.regex(readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8'), /^npm test$/m, '.ci/run goes through npm test');
});

test('the ensure script reports the CLI it found and builds nothing when one exists', async (t) => {
  const cli = fakeExecutable(path.join(root, 'ensure'), 'temporal');
  const [command, ...args] = ENSURE_SCRIPT.split(' ');
  t.is(command, 'node');
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: repoRoot, env: { ...process.env, TEMPORAL_CLI: cli } });
  t.is(stdout.trim(), `temporal CLI: ${cli} (env)`);
});
