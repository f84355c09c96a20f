// The output-directory rules: evoquant writes new or empty directories, replaces only its own
// (marked) ones, and refuses every path whose loss would hurt, before any work starts.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { MARKER_FILE, readMarker, writeMarker } from '../science/output-dir/marker.js';
import { checkOutputTarget, isWithin, UnsafeOutputError } from '../science/output-dir/target.js';
import { writeOutputDirectory } from '../science/output-dir/write.js';

const root = mkdtempSync(join(tmpdir(), 'output-dir-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = join(root, `case-${n++}`);
  mkdirSync(d);
  return d;
};

const refused = (t: import('ava').ExecutionContext, out: string, message: RegExp, options = {}): void => {
  const err = t.throws(() => checkOutputTarget(out, options), { instanceOf: UnsafeOutputError });
  t.regex(err?.message ?? '', message, out);
  t.false((err?.message ?? '').includes('\n'));
};

test('refuses the empty string, the root, home, the current directory and their ancestors', (t) => {
  refused(t, '', /^--out: is empty/);
  refused(t, '   ', /is empty/);
  refused(t, '/', /is the filesystem root/, { force: true });
  refused(t, '/..', /is the filesystem root/);
  refused(t, homedir(), /is the home directory/, { force: true });
  refused(t, '.', /is the current directory/, { force: true });
  refused(t, process.cwd(), /is the current directory/);
  refused(t, dirname(process.cwd()), /contains the current directory/);
});

test('refuses the model directory, its ancestors, its inside and links to it', (t) => {
  const base = fresh();
  const model = join(base, 'models', 'proxy');
  mkdirSync(model, { recursive: true });
  writeFileSync(join(model, 'config.json'), '{}');
  const protect = [{ path: model, what: 'the model directory (--model)' }];
  refused(t, model, /is the model directory/, { force: true, protect });
  refused(t, join(base, 'models'), /contains the model directory/, { force: true, protect });
  refused(t, base, /contains the model directory/, { force: true, protect });
  refused(t, join(model, 'q'), /is inside the model directory/, { protect });
  symlinkSync(model, join(base, 'link'));
  refused(t, join(base, 'link'), /is the model directory/, { force: true, protect });
  refused(t, join(base, 'link', 'q'), /is inside the model directory/, { protect });
  t.true(existsSync(join(model, 'config.json')));
});

test('refuses kernel filesystems at once, files on the way, control characters and overlong paths', (t) => {
  const started = Date.now();
  refused(t, '/proc/x/y', /under \/proc, a kernel filesystem/);
  refused(t, '/sys/evoquant', /under \/sys/);
  refused(t, '/dev/null', /under \/dev/);
  t.true(Date.now() - started < 1000);
  const base = fresh();
  writeFileSync(join(base, 'file'), 'x');
  refused(t, join(base, 'file'), /exists and is not a directory/, { force: true });
  refused(t, join(base, 'file', 'a', 'b'), /is a file, not a directory, so .* cannot be created/);
  refused(t, join(base, 'a\nb'), /contains control characters/);
  refused(t, join(base, 'x'.repeat(300)), /too long a path/);
  refused(t, `${base}/${'d/'.repeat(2100)}`, /too long a path/);
  const err = t.throws(() => checkOutputTarget(`${base}/${'d/'.repeat(2100)}`));
  t.true((err?.message.length ?? 0) < 300, 'a huge input is not repeated');
  symlinkSync(join(base, 'elsewhere'), join(base, 'dangling'));
  refused(t, join(base, 'dangling'), /is a symbolic link/, { force: true });
});

test('a non-empty directory without a valid marker is refused even with --force; a marked one needs --force', (t) => {
  const base = fresh();
  const foreign = join(base, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'notes.txt'), 'mine');
  refused(t, foreign, /already exists and was not written by evoquant/, { force: true });
  writeFileSync(join(foreign, MARKER_FILE), JSON.stringify({ tool: 'other', what: 'x', createdAt: 'now' }));
  refused(t, foreign, /not written by evoquant/, { force: true });
  const marked = join(base, 'marked');
  mkdirSync(marked);
  writeMarker(marked, 'quantized-model');
  refused(t, marked, /already exists \(pass --force/);
  t.deepEqual(checkOutputTarget(marked, { force: true }), { path: marked, existing: 'evoquant-output' });
  const empty = join(base, 'empty');
  mkdirSync(empty);
  t.deepEqual(checkOutputTarget(empty), { path: empty, existing: 'empty' });
  t.deepEqual(checkOutputTarget(join(base, 'new', 'deeper')), { path: join(base, 'new', 'deeper'), existing: 'none' });
  t.false(existsSync(join(base, 'new')), 'checking creates nothing');
});

test('writing: new with parents, into an empty dir, replacing only a marked dir, never a foreign one', (t) => {
  const base = fresh();
  const fill = (text: string) => (dir: string) => writeFileSync(join(dir, 'data.txt'), text);
  const out = join(base, 'a', 'b', 'out');
  t.true(writeOutputDirectory(out, fill('one'), { what: 'test', replace: false }));
  t.is(readMarker(out)?.what, 'test');
  t.true(writeOutputDirectory(out, fill('two'), { what: 'test', replace: true }));
  t.is(readFileSync(join(out, 'data.txt'), 'utf8'), 'two');
  t.false(writeOutputDirectory(out, fill('three'), { what: 'test', replace: false }), 'an existing output wins without replace');
  t.is(readFileSync(join(out, 'data.txt'), 'utf8'), 'two');
  const empty = join(base, 'empty');
  mkdirSync(empty);
  t.true(writeOutputDirectory(empty, fill('e'), { what: 'test', replace: false }));
  const foreign = join(base, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'keep.txt'), 'keep');
  t.throws(() => writeOutputDirectory(foreign, fill('x'), { what: 'test', replace: true }), { instanceOf: UnsafeOutputError });
  t.deepEqual(readdirSync(foreign), ['keep.txt']);
  t.throws(() =>
    writeOutputDirectory(join(base, 'failing'), () => {
      throw new Error('fill failed');
    }, { what: 'test', replace: true }),
  );
  t.deepEqual(readdirSync(base).sort(), ['a', 'empty', 'foreign'], 'no temporary or partial directory is left');
  t.deepEqual(readdirSync(join(base, 'a', 'b')), ['out']);
});

test('isWithin compares whole path components', (t) => {
  t.true(isWithin('/a/b', '/a'));
  t.true(isWithin('/a', '/a'));
  t.false(isWithin('/ab', '/a'));
  t.false(isWithin('/a', '/a/b'));
  t.true(isWithin('/a/..b', '/a'));
});

test('artifact paths stay inside the artifacts directory whatever the ids', async (t) => {
  const { pathComponent } = await import('../science/executor/reference-executor.js');
  t.is(pathComponent('evo-1.a_b'), 'evo-1.a_b');
  for (const id of ['..', '.', '', '../x', 'a/b', '.hidden', 'x'.repeat(200), 'a\nb']) {
    const c = pathComponent(id);
    t.regex(c, /^_[0-9a-f]{32}$/, id);
    t.is(pathComponent(id), c, 'stable, so a retry finds the same artifact');
  }
});
