// Resolution order of the Temporal CLI, exercised with a fake environment (no build, no server).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { findOnPath, resolveTemporalCli } from '../engine/stack/temporal-cli.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

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
    build: false,
    log: quiet,
  });
  t.deepEqual(cli, { kind: 'download' });
});
