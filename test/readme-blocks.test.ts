import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBlock, renderBlock, replaceBlock, writeReadmeBlocks } from '../scripts/readme-blocks.js';
import { blockDiff } from './helpers/block-diff.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const doc = [
  '# title',
  renderBlock({ name: 'alpha', command: 'cmd a --write-readme', body: 'old alpha' }),
  'between',
  renderBlock({ name: 'alpha-2', command: 'cmd b', body: '| a |\n|---|' }),
  'end',
].join('\n\n');

test('replaceBlock rewrites only the named block and keeps the text around it', (t) => {
  const out = replaceBlock(doc, { name: 'alpha', command: 'cmd a --write-readme', body: 'new $& alpha\n' });
  t.is(readBlock(out, 'alpha'), 'new $& alpha');
  t.is(readBlock(out, 'alpha-2'), '| a |\n|---|');
  t.is(out.replace('new $& alpha', 'old alpha'), doc);
});

test('a missing or duplicated block is an error, never an append', (t) => {
  t.throws(() => replaceBlock(doc, { name: 'beta', command: 'c', body: 'x' }), { message: /0 generated blocks named beta/ });
  const twice = `${doc}\n\n${renderBlock({ name: 'alpha', command: 'c', body: 'x' })}`;
  t.throws(() => readBlock(twice, 'alpha'), { message: /2 generated blocks named alpha/ });
  t.throws(() => readBlock(doc, 'Bad Name'), { message: /must match/ });
  t.throws(() => renderBlock({ name: 'a', command: 'x --> y', body: '' }), { message: /command/ });
});

test('writeReadmeBlocks replaces blocks in place and leaves no temp file; a failed write changes nothing', (t) => {
  const dir = makeTempDir('readme-blocks');
  t.teardown(() => removeTempDir(dir));
  const path = join(dir, 'README.md');
  writeFileSync(path, doc);
  writeReadmeBlocks([{ name: 'alpha', command: 'cmd a --write-readme', body: 'fresh' }, { name: 'alpha-2', command: 'cmd b', body: 'two' }], path);
  const text = readFileSync(path, 'utf8');
  t.is(readBlock(text, 'alpha'), 'fresh');
  t.is(readBlock(text, 'alpha-2'), 'two');
  t.deepEqual(readdirSync(dir), ['README.md']);
  t.throws(() => writeReadmeBlocks([{ name: 'alpha', command: 'c', body: 'x' }, { name: 'gamma', command: 'c', body: 'y' }], path));
  t.is(readFileSync(path, 'utf8'), text);
  t.false(existsSync(`${path}.${process.pid}.tmp`));
});

test('blockDiff names the rows and cells that moved and the other lines that changed', (t) => {
  const before = ['intro', '', '| recipe | bits/byte | KL |', '|---|---:|---:|', '| rtn | 1.9675 | 1.13e-2 |', '| awq | 1.9643 | 1.00e-2 |', '| gone | 1 | 2 |', '', '- AWQ < RTN'].join('\n');
  const after = ['intro', '', '| recipe | bits/byte | KL |', '|---|---:|---:|', '| rtn | 1.9675 | 1.13e-2 |', '| awq | 1.9661 | 1.02e-2 |', '| new | 1 | 2 |', '', '- RTN < AWQ'].join('\n');
  t.is(
    blockDiff(before, after),
    ['awq: bits/byte 1.9643 → 1.9661, KL 1.00e-2 → 1.02e-2', 'gone: only in README', 'new: only measured', '- - AWQ < RTN', '+ - RTN < AWQ'].join('\n'),
  );
  t.is(blockDiff(before, before), 'no difference');
  t.is(blockDiff('a\nb', 'a\nc'), '- b\n+ c');
});
