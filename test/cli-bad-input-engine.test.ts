// Issue #6 §3, the engine's side: every class of bad input found against the engine commands and
// the input files they read, as a person runs them. Each must exit 2 with one clean line, write no
// state and connect nowhere (both service addresses lead to a tripwire that counts connections).
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { checkProxyDir } from '../engine/client/config-checks.js';
import { InvalidConfigError } from '../engine/client/errors.js';
import { repoRoot } from '../engine/stack/paths.js';
import { badInputEnv, contractBreaks, tripwire, validEvolutionConfig, type Tripwire } from './helpers/bad-input-cli.js';
import { inBatches, spawnCli, type CliRun } from './helpers/cli.js';
import { PROXY_DIR } from './helpers/proxy.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

let work = '';
let wire: Tripwire;
test.before(async () => {
  work = makeTempDir('bad-input-engine');
  wire = await tripwire();
});
test.after.always(async () => {
  await wire?.close();
  if (work) removeTempDir(work);
});

interface Case {
  name: string;
  args: string[];
  expect: RegExp;
}

let runs = 0;
/** Runs the cases two at a time, each with its own never-created state dir, and checks the contract. */
async function check(t: import('ava').ExecutionContext, cases: Case[], maxMs = 30_000): Promise<CliRun[]> {
  const before = wire.connections();
  const results = await inBatches(
    cases.map((c) => async () => {
      const state = path.join(work, `state-${runs++}`);
      const r = await spawnCli(c.args, { env: badInputEnv(state, wire) });
      t.deepEqual(contractBreaks(r, state, maxMs), [], `${c.name}: ${JSON.stringify(r.stderr.slice(0, 300))}`);
      t.regex(r.stderr, c.expect, c.name);
      return r;
    }),
  );
  t.is(wire.connections(), before, 'no command connected to Temporal or Postgres');
  return results;
}

const write = (name: string, content: string | Buffer): string => {
  const file = path.join(work, name);
  writeFileSync(file, content);
  return file;
};

const goodConfig = validEvolutionConfig;
const config = (name: string, over: Record<string, unknown> = {}): string => write(name, JSON.stringify(goodConfig(over)));
const compile = (recipe: string): string[] => ['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', '2', '--recipe', recipe];
const HUGE = 'a'.repeat(100 * 1024);

test.serial('an empty id exits 2 for every command that takes one, before connecting', async (t) => {
  const cases: Case[] = [
    ['status'],
    ['history'],
    ['retry'],
    ['pause'],
    ['resume'],
    ['stop'],
    ['budget', '--generations', '3'],
  ].map(([command, ...rest]) => ({ name: command!, args: [command!, '', ...rest], expect: /^evoquant: <id>: evolution id is empty\n$/ }));
  cases.push({ name: 'start --id ""', args: ['start', '--config', config('id-empty.json'), '--id', ''], expect: /^evoquant: --id: evolution id is empty\n$/ });
  cases.push({ name: 'retry --candidate ""', args: ['retry', 'evo-1', '--candidate', ''], expect: /^evoquant: --candidate: candidate id is empty\n$/ });
  cases.push({ name: 'lineage ""', args: ['lineage', ''], expect: /^evoquant: <node>: node id is empty\n$/ });
  await check(t, cases);
});

test.serial('a 100 KB id is refused in one short line, not echoed (it used to exit 13 in silence)', async (t) => {
  const rs = await check(t, [
    { name: 'status <100 KB>', args: ['status', HUGE], expect: /^evoquant: <id>: evolution id is longer than 200 characters\n$/ },
    { name: 'start --id <100 KB>', args: ['start', '--config', config('id-huge.json'), '--id', HUGE], expect: /^evoquant: --id: evolution id is longer than 200 characters\n$/ },
    { name: 'history <201 chars>', args: ['history', 'a'.repeat(201)], expect: /longer than 200 characters/ },
    { name: 'lineage <100 KB>', args: ['lineage', HUGE], expect: /^evoquant: <node>: node id is longer than 200 characters\n$/ },
  ]);
  for (const r of rs) t.true(r.stderr.length < 120, r.stderr);
});

test.serial('ids outside the charset are refused, with escapes stripped from the echo', async (t) => {
  await check(t, [
    { name: 'ANSI in an id', args: ['status', '\u001b[31mred\u001b[0m'], expect: /^evoquant: <id>: evolution id may hold letters, digits.*\(got "red"\)\n$/ },
    { name: 'a slash', args: ['pause', 'evo/gen-0'], expect: /^evoquant: <id>: evolution id may hold/ },
    { name: 'a leading dash-free dot', args: ['stop', '.hidden'], expect: /starts with a letter or digit/ },
    { name: 'candidate with a space', args: ['retry', 'evo-1', '--candidate', 'cand a'], expect: /^evoquant: --candidate: candidate id may hold/ },
    { name: 'node with a quote', args: ['lineage', "candidate:x'--"], expect: /^evoquant: <node>: node id may hold/ },
  ]);
});

test.serial('start: the proxy must be a model directory; relative paths stay inside the repository', async (t) => {
  const empty = path.join(work, 'empty-proxy');
  mkdirSync(empty, { recursive: true });
  await check(t, [
    { name: 'proxy /etc', args: ['start', '--config', config('proxy-etc.json', { proxy: '/etc' })], expect: /^evoquant: config\.proxy: \/etc is not a proxy model directory \(\/etc\/config\.json does not exist\)\n$/ },
    { name: 'proxy ../..', args: ['start', '--config', config('proxy-climb.json', { proxy: '../../etc' })], expect: /^evoquant: config\.proxy: "\.\.\/\.\.\/etc" climbs out of the repository; .*absolute path/ },
    { name: 'proxy artifacts/../..', args: ['start', '--config', config('proxy-climb2.json', { proxy: 'artifacts/../../x' })], expect: /climbs out of the repository/ },
    { name: 'proxy an empty dir', args: ['start', '--config', config('proxy-empty.json', { proxy: empty })], expect: /^evoquant: config\.proxy: .*empty-proxy is not a proxy model directory/ },
    { name: 'proxy a file', args: ['start', '--config', config('proxy-file.json', { proxy: path.join(PROXY_DIR, 'config.json') })], expect: /^evoquant: config\.proxy: .* is not a directory/ },
  ]);
});

test.serial('checkProxyDir: an absolute model dir outside the repository and a relative one inside are accepted', (t) => {
  const elsewhere = path.join(work, 'models', 'proxy');
  cpSync(PROXY_DIR, elsewhere, { recursive: true });
  t.is(checkProxyDir(elsewhere), elsewhere);
  t.is(checkProxyDir('artifacts/proxy'), path.join(repoRoot, 'artifacts/proxy'));
  t.is(checkProxyDir('artifacts/../artifacts/proxy'), path.join(repoRoot, 'artifacts/proxy'), '.. that stays inside is fine');
  t.throws(() => checkProxyDir(path.relative(repoRoot, elsewhere)), { instanceOf: InvalidConfigError, message: /climbs out of the repository/ });
  t.throws(() => checkProxyDir('artifacts/\u0000'), { instanceOf: InvalidConfigError, message: /NUL/ });
});

test.serial('start: an inline seed recipe gets the checks of a builtin (schema, then compile on the target)', async (t) => {
  // Valid by the schema, but the fp8 default leaks into an int4 override: compile refuses it.
  const leaky = { name: 'leaky-fp8', default: { bits: 8, format: 'fp8', groupSize: 'channel', symmetric: true }, roles: { attn_q: { bits: 4 } } };
  const recipeFile = write('leaky.json', JSON.stringify(leaky));
  await check(t, [
    { name: 'inline recipe compile refuses', args: ['start', '--config', config('seed-leaky.json', { seedRecipes: ['bf16', leaky] })], expect: /^evoquant: config\.seedRecipes\[1\]: compile refuses it on the target: recipe "leaky-fp8": attn_q .*fp8 format requires bits 8\n$/ },
    { name: 'the same recipe to compile', args: compile(recipeFile), expect: /fp8 format requires bits 8/ },
    { name: 'inline recipe, bad schema', args: ['start', '--config', config('seed-bits.json', { seedRecipes: [{ name: 'x', default: { bits: 5 } }] })], expect: /^evoquant: config\.seedRecipes\[0\]\.default\.bits: bits must be one of/ },
    { name: '65 seed recipes', args: ['start', '--config', config('seed-many.json', { seedRecipes: Array.from({ length: 65 }, () => 'bf16') })], expect: /^evoquant: config\.seedRecipes: Too big/ },
  ]);
});

test.serial('roles keyed __proto__, constructor or prototype are refused, in recipe files and inline', async (t) => {
  const roles = (key: string): string => `{"name":"x","default":{"bits":4},"roles":{"${key}":{"bits":8}}}`;
  const inline = (key: string): string =>
    JSON.stringify(goodConfig({ seedRecipes: ['PLACEHOLDER'] })).replace('"PLACEHOLDER"', roles(key));
  await check(t, [
    { name: 'recipe __proto__', args: compile(write('proto.json', roles('__proto__'))), expect: /^evoquant: recipe\.roles\.__proto__: unknown field\n$/ },
    { name: 'recipe constructor', args: compile(write('ctor.json', roles('constructor'))), expect: /^evoquant: recipe\.roles\.constructor: unknown field\n$/ },
    { name: 'recipe prototype (YAML)', args: compile(write('proto.yaml', 'name: x\ndefault: {bits: 4}\nroles:\n  prototype: {bits: 8}\n')), expect: /^evoquant: recipe\.roles\.prototype: unknown field\n$/ },
    { name: 'recipe __proto__ (YAML)', args: compile(write('proto2.yaml', 'name: x\ndefault: {bits: 4}\nroles:\n  __proto__: {bits: 8}\n')), expect: /^evoquant: recipe\.roles\.__proto__: unknown field\n$/ },
    { name: 'config, inline __proto__', args: ['start', '--config', write('seed-proto.json', inline('__proto__'))], expect: /^evoquant: config\.seedRecipes\[0\]\.roles\.__proto__: unknown field\n$/ },
    { name: 'config top-level __proto__', args: ['start', '--config', write('top-proto.json', JSON.stringify(goodConfig()).replace(/^\{/, '{"__proto__":{"pool":"x"},'))], expect: /^evoquant: config\.__proto__: unknown field\n$/ },
    { name: 'builtin:constructor', args: compile('builtin:constructor'), expect: /^evoquant: recipe: unknown builtin "constructor"/ },
  ]);
});

test.serial('YAML is read with the core schema: custom tags are errors, not warnings', async (t) => {
  await check(t, [
    { name: 'recipe !!js/function', args: compile(write('fn.yaml', 'name: !!js/function "function () { return 1 }"\ndefault: {bits: 4}\n')), expect: /^evoquant: recipe: .*fn\.yaml is not valid YAML \(Unresolved tag: tag:yaml\.org,2002:js\/function at line 1/ },
    { name: 'config !!js/regexp', args: ['start', '--config', write('re.yaml', `name: !!js/regexp /x/\ntarget: {model: qwen3-235b-a22b, hardware: a100-80gb, gpus: 2}\nproxy: ${PROXY_DIR}\n`)], expect: /^evoquant: --config: .*re\.yaml is not valid YAML \(Unresolved tag/ },
    { name: 'config !custom', args: ['start', '--config', write('custom.yaml', 'name: !shout x\n')], expect: /is not valid YAML \(Unresolved tag: !shout/ },
    { name: 'duplicate keys', args: ['start', '--config', write('dup.yaml', 'name: a\nname: b\n')], expect: /is not valid YAML \(Map keys must be unique/ },
  ]);
});

test.serial('input files are capped at 1 MiB, and directories or devices are refused, in well under the old minute', async (t) => {
  const big = `{"name":"x","description":"${'d'.repeat(10 * 1024 * 1024)}","default":{"bits":4}}`;
  const dir = path.join(work, 'recipe-dir.json');
  mkdirSync(dir, { recursive: true });
  await check(
    t,
    [
      { name: '10 MB recipe', args: compile(write('big.json', big)), expect: /^evoquant: recipe: .*big\.json is 10\.0 MiB, more than the 1\.0 MiB allowed\n$/ },
      { name: '10 MB config', args: ['start', '--config', write('big.yaml', `name: x\ndescription: ${'d'.repeat(10 * 1024 * 1024)}\n`)], expect: /^evoquant: --config: .*big\.yaml is 10\.0 MiB, more than the 1\.0 MiB allowed\n$/ },
      { name: 'recipe is a directory', args: compile(dir), expect: /^evoquant: recipe: .*recipe-dir\.json is a directory, not a file\n$/ },
      { name: 'config is a directory', args: ['start', '--config', dir], expect: /^evoquant: --config: .*recipe-dir\.json is a directory, not a file\n$/ },
      { name: 'config is a device', args: ['start', '--config', '/dev/zero'], expect: /^evoquant: --config: \/dev\/zero is not a regular file\n$/ },
      { name: 'deep nesting', args: compile(write('deep.json', `{"name":"x","default":{"bits":4},"depth":${'['.repeat(5000)}${']'.repeat(5000)}}`)), expect: /^evoquant: recipe: .*deep\.json nests deeper than 32 levels\n$/ },
    ],
    15_000,
  );
});

test.serial('echoed input is stripped of control characters and cut short', async (t) => {
  // A raw ESC inside malformed JSON: the parser's message quotes the text around it.
  const rawEsc = write('ansi-raw.json', '{"name": "x", \u001b[31mRED\u001b[0m }');
  // An escaped ESC in a key: it becomes part of the unknown field's name.
  const escKey = write('ansi-key.json', '{"name":"x","default":{"bits":4},"\\u001b[31mred\\u001b[0m\\r\\nsecond line":1}');
  const longKey = write('long-key.json', `{"name":"x","default":{"bits":4},"${'k'.repeat(50_000)}":1}`);
  const rs = await check(t, [
    { name: 'raw ESC in malformed JSON', args: compile(rawEsc), expect: /^evoquant: recipe: .*ansi-raw\.json is not valid JSON/ },
    { name: 'escaped ESC in a key', args: compile(escKey), expect: /^evoquant: recipe\.red second line: unknown field\n$/ },
    { name: '50 KB key', args: compile(longKey), expect: /^evoquant: recipe\.k+…k+: unknown field\n$/ },
    { name: '100 KB builtin name', args: compile(`builtin:${HUGE}`), expect: /^evoquant: recipe: unknown builtin "a+…a+"/ },
    { name: '100 KB seed name', args: ['start', '--config', config('seed-huge.json', { seedRecipes: [HUGE.slice(0, 120)] })], expect: /^evoquant: config\.seedRecipes\[0\]: unknown builtin recipe "a+…a+"/ },
    { name: 'ESC in a model name', args: ['start', '--config', config('model-esc.json', { target: { model: '\u001b]0;pwned\u0007qwen', hardware: 'a100-80gb', gpus: 2 } })], expect: /^evoquant: config\.target\.model: / },
    { name: '100 KB recipe path', args: compile(`/tmp/${HUGE}.json`), expect: /^evoquant: recipe: / },
    // commander's own messages quote the argument too.
    { name: '100 KB unknown option', args: ['status', 'evo-1', `--${HUGE}`], expect: /^evoquant: unknown option '--a+…a+'/ },
    { name: 'ANSI in an unknown command', args: ['st\u001b[31matus'], expect: /^evoquant: unknown command 'status'/ },
  ]);
  for (const r of rs) t.true(r.stderr.length < 500, `short: ${r.stderr.length} characters`);
  t.false(rs[5]!.stderr.includes('pwned'), 'the OSC title sequence is dropped whole');
});
