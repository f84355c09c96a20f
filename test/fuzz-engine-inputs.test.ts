// Property-based bad input for the engine's side (issue #6 §3): recipes (JSON and YAML), evolution
// configs and ids, each made invalid in one way (a wrong type, a huge number, a __proto__ or unknown
// key, control characters, a broken file). For every one: a bad-input error of one clean, short line,
// no stack trace, nothing written, bounded time. Most runs call the validating functions in-process;
// a sample of each kind also runs through the real CLI for the exit code and the state dir.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { checkId } from '../engine/cli/args.js';
import { isBadInput } from '../engine/cli/errors.js';
import { oneLine } from '../engine/cli/output.js';
import { checkEvolutionConfig } from '../engine/client/config-checks.js';
import { loadEvolutionConfigFile } from '../engine/client/config-file.js';
import { loadRecipe } from '../science/recipes/load.js';
import { CandidateId, EkgNodeId, EvolutionId } from '../schema/ids.js';
import { MODULE_ROLES } from '../schema/recipe.js';
import { badInputEnv, CONTROL, contractBreaks, tripwire, validEvolutionConfig } from './helpers/bad-input-cli.js';
import { inBatches, spawnCli } from './helpers/cli.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const SEED = 20_260_611;
/** Per in-process call; the CLI's own start-up (tsx) gets more. */
const MAX_CALL_MS = 3_000;
const MAX_CLI_MS = 30_000;

let work = '';
let stateDir = '';
let savedHome: string | undefined;
test.before(() => {
  work = makeTempDir('fuzz-engine');
  // Whatever the in-process calls would write under the state dir would land here.
  stateDir = path.join(work, 'state');
  savedHome = process.env.EVOQUANT_HOME;
  process.env.EVOQUANT_HOME = stateDir;
});
test.after.always(() => {
  if (savedHome === undefined) delete process.env.EVOQUANT_HOME;
  else process.env.EVOQUANT_HOME = savedHome;
  if (work) removeTempDir(work);
});

// ---------------------------------------------------------------- arbitraries

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

/** Control characters and escape sequences a hostile file may carry. */
const nasty = fc.constantFrom('\u001b[31m', '\u001b]0;title\u0007', '\u0000', '\r', '\n', '\u0007', '\u202e', '\u009b', '\u2028', '\t');
const nastyString = (min = 1, max = 12) => fc.string({ unit: fc.oneof(nasty, fc.string({ minLength: 1, maxLength: 1 })), minLength: min, maxLength: max });
/** A string that holds at least one control character or escape. */
const withNasty = fc.tuple(fc.string({ maxLength: 20 }), nasty, fc.string({ unit: fc.oneof(nasty, fc.string({ minLength: 1, maxLength: 1 })), maxLength: 20 })).map(([a, b, c]) => a + b + c);
const hugeNumber = fc.constantFrom(1e308, -1e308, 2 ** 53 + 2, 1e21, -1, 0.5, 1e-300);
const notString: fc.Arbitrary<Json> = fc.oneof(fc.integer(), hugeNumber, fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.constant({ a: 1 }));
const notNumber: fc.Arbitrary<Json> = fc.oneof(fc.string({ maxLength: 6 }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.constant({ n: 4 }));
const notBoolean: fc.Arbitrary<Json> = fc.oneof(fc.constantFrom('true', 'yes', 1, 0), fc.constant(null), fc.array(fc.boolean(), { maxLength: 2 }));
const notObject: fc.Arbitrary<Json> = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }));
const longString = (min: number) => fc.string({ minLength: min, maxLength: min + 3000 });
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

/** A key no schema location knows. */
const unknownKey = (known: readonly string[]) =>
  fc.oneof(fc.constantFrom(...PROTO_KEYS), nastyString(1, 16), longString(200), fc.string({ minLength: 1, maxLength: 12 })).filter((k) => !known.includes(k));

const RECIPE_KEYS = ['name', 'description', 'activations', 'kvCache', 'kvCacheBits', 'default', 'roles', 'depth', 'experts'];
const SPEC_KEYS = ['bits', 'format', 'groupSize', 'symmetric', 'method', 'outliers', 'rotation'];
const OVERRIDE_KEYS = SPEC_KEYS;

/** Sets `key` as an own, enumerable property, even `__proto__`. */
function setOwn(obj: Obj, key: string, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function at(root: Obj, where: readonly string[]): Obj {
  let o: Obj = root;
  for (const k of where) o = o[k] as Obj;
  return o;
}

interface Mutation {
  /** Path of the object to change, and the key to set in it. */
  where: readonly string[];
  key: string;
  value: Json;
}

const baseRecipe = (): Obj => ({
  name: 'fuzz',
  description: 'a good recipe, then one thing broken',
  default: { bits: 4, groupSize: 128, symmetric: false, method: { kind: 'rtn' } },
  roles: { router: { bits: 16 }, attn_q: { bits: 8 } },
  depth: [{ from: 0, to: 0.5, override: { bits: 8 } }],
});

const mutation = (where: string[], key: string, value: fc.Arbitrary<Json>): fc.Arbitrary<Mutation> => value.map((v) => ({ where, key, value: v }));

/** One change that makes a good recipe invalid. */
const recipeMutation: fc.Arbitrary<Mutation> = fc.oneof(
  mutation([], 'name', fc.oneof(notString, fc.constant(''), longString(121))),
  mutation([], 'description', fc.oneof(notString, longString(2001))),
  mutation([], 'kvCacheBits', fc.oneof(notNumber, hugeNumber, fc.integer().filter((n) => ![4, 8, 16].includes(n)))),
  mutation([], 'kvCache', fc.oneof<fc.Arbitrary<Json>[]>(
    notObject,
    fc.constantFrom<Json>({ keys: { format: 'int3' } }, { values: { format: 'int4', axis: 'token', groupSize: 48 } }, { values: { format: 'int4' } }, { keys: { format: 'fp8_e4m3', axis: 'token' } }, { recentWindow: -1 }, { sinkTokens: 1e300 }, { keyPosition: 'mid-rope' }),
    fc.constant<Json>({ layers: Array.from({ length: 300 }, () => ({ from: 0, to: 1, override: {} })) }),
    nastyString().map((k): Json => ({ layers: [{ from: 0, to: 1, override: { [`zz${k}`]: 1 } }] })),
  )),
  mutation([], 'activations', fc.oneof(notString, nastyString())),
  mutation(['default'], 'bits', fc.oneof(notNumber, hugeNumber, fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => ![2, 3, 4, 8, 16].includes(n)))),
  mutation(['default'], 'groupSize', fc.oneof(fc.boolean(), fc.constant(null), hugeNumber, fc.integer().filter((n) => ![32, 64, 128, 256].includes(n)), nastyString())),
  mutation(['default'], 'symmetric', notBoolean),
  mutation(['default'], 'method', fc.oneof(notObject, fc.constant({ kind: 'magic' }), fc.constant({ kind: 'gptq', damp: 5 }), fc.constant({ kind: 'awq', scaleGrid: 1e308 }))),
  mutation([], 'roles', notObject),
  mutation(['roles'], 'attn_k', fc.oneof(notObject, fc.constant({ bits: 5 }), fc.constant({ groupSize: 100 }))),
  mutation([], 'depth', fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant<Json>({ a: 1 }), fc.array(fc.integer(), { minLength: 1, maxLength: 3 }), fc.constant<Json>([{ from: 0.5, to: 0.2, override: {} }]), fc.constant<Json>(Array.from({ length: 300 }, () => ({ from: 0, to: 1, override: {} }))))),
  ...[[], ['default'], ['default', 'method'], ['roles'], ['roles', 'attn_q']].map((where) => {
    const known = where.length === 0 ? RECIPE_KEYS : where.at(-1) === 'roles' ? [...MODULE_ROLES] : where.at(-1) === 'method' ? ['kind'] : where.at(-1) === 'attn_q' ? OVERRIDE_KEYS : SPEC_KEYS;
    return fc.tuple(unknownKey(known), fc.oneof(fc.integer(), fc.constant({ bits: 8 }), nastyString())).map(([key, value]) => ({ where, key, value }));
  }),
  // The key zod's records silently dropped, anywhere in the recipe, holding a valid-looking value.
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom([], ['default'], ['default', 'method'], ['roles'], ['roles', 'attn_q'], ['depth', '0'], ['depth', '0', 'override']), fc.constantFrom<Json>({ bits: 8 }, 8, {}))
      .map(([where, value]): Mutation => ({ where: [...where], key: '__proto__', value })),
  },
);

function applied(base: Obj, m: Mutation): Obj {
  const copy = JSON.parse(JSON.stringify(base)) as Obj;
  setOwn(at(copy, m.where), m.key, m.value);
  return copy;
}

const badRecipe: fc.Arbitrary<Obj> = recipeMutation.map((m) => applied(baseRecipe(), m));

/** How the document reaches the disk: JSON, YAML, or broken text. */
type Encoding = 'json' | 'yaml' | 'truncated-json' | 'tagged-yaml' | 'not-utf8' | 'escape-in-json';
const encoding = fc.constantFrom<Encoding>('json', 'json', 'yaml', 'yaml', 'truncated-json', 'tagged-yaml', 'not-utf8', 'escape-in-json');

function encode(doc: Obj, how: Encoding, cut: number): { ext: 'json' | 'yaml'; bytes: Buffer } {
  const json = JSON.stringify(doc);
  switch (how) {
    case 'json':
      return { ext: 'json', bytes: Buffer.from(json) };
    case 'yaml':
      return { ext: 'yaml', bytes: Buffer.from(toYaml(doc)) };
    case 'truncated-json':
      // Any proper prefix of a JSON object is malformed.
      return { ext: 'json', bytes: Buffer.from(json.slice(0, Math.max(1, Math.floor(cut * (json.length - 1))))) };
    case 'tagged-yaml':
      return { ext: 'yaml', bytes: Buffer.from(`name: !!js/function "function () { return process.exit(0) }"\n${toYaml(doc).replace(/^name:.*$/m, '')}`) };
    case 'not-utf8':
      return { ext: 'json', bytes: Buffer.concat([Buffer.from(json.slice(0, 10)), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(json.slice(10))]) };
    case 'escape-in-json':
      return { ext: 'json', bytes: Buffer.from(`${json.slice(0, 1)}\u001b[2J\u001b[31m${json.slice(1)}`) };
  }
}

const goodConfig = (): Obj => validEvolutionConfig({ name: 'fuzz', evaluation: { tokens: 1024 } }) as Obj; // plain JSON
const CONFIG_KEYS = ['name', 'target', 'pool', 'poolCapacity', 'proxy', 'generations', 'populationSize', 'seed', 'seedRecipes', 'selection', 'evaluation', 'maxCandidates'];
const TARGET_KEYS = ['model', 'hardware', 'gpus', 'tensorParallel', 'context', 'batch'];
const EVALUATION_KEYS = ['tokens', 'calibrationTokens', 'heartbeatSeconds', 'maxAttempts'];
const nowhere = fc.string({ minLength: 1, maxLength: 10 }).map((s) => `zz-${s}`);

/** One change that makes a good config invalid, by schema or by the checks behind it. */
const configMutation: fc.Arbitrary<Mutation> = fc.oneof(
  mutation([], 'name', fc.oneof(notString, fc.constant(''), longString(121), withNasty, fc.constantFrom('-x', '.x', 'a b', 'a/b'))),
  mutation(['target'], 'gpus', fc.oneof(notNumber, hugeNumber, fc.constantFrom(0, 65, 2.5))),
  mutation(['target'], 'model', fc.oneof(notString, fc.constant(''), nowhere, nastyString().map((s) => `zz${s}`), longString(4097))),
  mutation(['target'], 'hardware', fc.oneof(notString, nowhere, nastyString().map((s) => `zz${s}`))),
  mutation(['target'], 'tensorParallel', fc.oneof(fc.constantFrom(0, 3, 65, 1.5), notNumber)),
  mutation(['target'], 'context', fc.oneof(hugeNumber, fc.constantFrom(0, 1_048_577), notNumber)),
  mutation([], 'proxy', fc.oneof(notString, fc.constantFrom('', '/etc', '../x', 'artifacts/../../..', '/nonexistent-zz', '/dev/null'), nastyString().map((s) => `/zz${s}`))),
  mutation([], 'pool', fc.oneof(notString, nowhere, fc.constantFrom('A B', '', 'tpu'))),
  mutation([], 'seedRecipes', fc.oneof<fc.Arbitrary<Json>[]>(notObject, fc.constant<Json>([]), fc.array(nowhere, { minLength: 1, maxLength: 3 }), badRecipe.map((r): Json => [r]), fc.constant<Json>(Array.from({ length: 65 }, () => 'bf16')))),
  mutation(['evaluation'], 'tokens', fc.oneof(hugeNumber, fc.constantFrom(0, 1e9), notNumber)),
  mutation([], 'generations', fc.oneof(fc.constantFrom(0, 10_001, 1.5), hugeNumber, notNumber)),
  ...[[], ['target'], ['evaluation']].map((where) => {
    const known = where.length === 0 ? CONFIG_KEYS : where[0] === 'target' ? TARGET_KEYS : EVALUATION_KEYS;
    return fc.tuple(unknownKey(known), fc.oneof(fc.integer(), fc.constant({ a: 1 }), nastyString())).map(([key, value]) => ({ where, key, value }));
  }),
);
const badConfig: fc.Arbitrary<Obj> = configMutation.map((m) => applied(goodConfig(), m));

const badId = fc.oneof(
  fc.constant(''),
  fc.string({ minLength: 201, maxLength: 100_000 }),
  fc.stringMatching(/^[A-Za-z0-9._-]{201,400}$/),
  withNasty,
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9]{0,20}$/), fc.constantFrom(' ', ';', '$(x)', '`', '"', "'", '\\', '*', '\u00e9', '\u{1f600}'), fc.stringMatching(/^[A-Za-z0-9]{0,20}$/)).map(([a, b, c]) => a + b + c),
  fc.stringMatching(/^[._-][A-Za-z0-9._-]{0,20}$/),
);
const goodId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/);

// ---------------------------------------------------------------- the contract, in-process

let fileNo = 0;
function writeInput(doc: Obj, how: Encoding, cut: number): string {
  const { ext, bytes } = encode(doc, how, cut);
  const file = path.join(work, `input-${fileNo++}.${ext}`);
  writeFileSync(file, bytes);
  return file;
}

/** Runs `fn`, which must refuse its input; returns what breaks the contract (nothing, when it holds). */
function refusal(fn: () => unknown): string[] {
  const started = performance.now();
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - started;
  if (err === undefined) return ['accepted'];
  const problems: string[] = [];
  if (!isBadInput(err)) problems.push(`not a bad-input error: ${err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : String(err)}`);
  else {
    const line = oneLine(err.message);
    if (line !== err.message) problems.push(`the message needs the printer's net: ${JSON.stringify(err.message.slice(0, 200))}`);
    if (CONTROL.test(line) || line.includes('\n')) problems.push('control characters in the line');
    if (line.length > 600) problems.push(`a ${line.length}-character line`);
  }
  if (ms > MAX_CALL_MS) problems.push(`took ${Math.round(ms)} ms`);
  return problems;
}

/** Checks `problemsOf` finds nothing for `numRuns` inputs; a failure reports the input and the problems. */
function holds<T>(t: ExecutionContext, arbitrary: fc.Arbitrary<T>, problemsOf: (input: T) => string[], numRuns: number): void {
  const property = fc.property(arbitrary, (input) => {
    const problems = problemsOf(input);
    if (problems.length > 0) throw new Error(problems.join('; '));
  });
  const result = fc.check(property, { seed: SEED, numRuns });
  t.false(result.failed, fc.defaultReportMessage(result) ?? '');
  t.false(existsSync(stateDir), 'nothing was written under the state dir');
}

test('recipes: every invalid one is refused in one clean line (in-process)', (t) => {
  holds(t, fc.tuple(badRecipe, encoding, fc.double({ min: 0, max: 1, noNaN: true })), ([r, how, cut]) => refusal(() => loadRecipe(writeInput(r, how, cut))), 600);
});

test('evolution configs: every invalid one is refused in one clean line (in-process)', (t) => {
  const load = (file: string): void => checkEvolutionConfig(loadEvolutionConfigFile(file));
  holds(t, fc.tuple(badConfig, encoding, fc.double({ min: 0, max: 1, noNaN: true })), ([c, how, cut]) => refusal(() => load(writeInput(c, how, cut))), 300);
});

test('ids: every invalid one is refused in one clean line, every valid one passes (in-process)', (t) => {
  const schemas = [EvolutionId, CandidateId, EkgNodeId] as const;
  holds(t, fc.tuple(badId, fc.constantFrom(...schemas)), ([id, schema]) => refusal(() => checkId(schema, '<id>', id)), 1000);
  const valid = fc.check(fc.property(goodId, (id) => schemas.every((s) => s.safeParse(id).success)), { seed: SEED, numRuns: 300 });
  t.false(valid.failed, fc.defaultReportMessage(valid) ?? '');
});

test('the fuzz base documents are valid, so each property tests its one mutation', (t) => {
  t.notThrows(() => loadRecipe(writeInput(baseRecipe(), 'json', 1)));
  t.notThrows(() => loadRecipe(writeInput(baseRecipe(), 'yaml', 1)));
  t.notThrows(() => checkEvolutionConfig(loadEvolutionConfigFile(writeInput(goodConfig(), 'yaml', 1))));
  t.notThrows(() => checkEvolutionConfig(loadEvolutionConfigFile(writeInput({ ...goodConfig(), seedRecipes: [baseRecipe()] }, 'json', 1))));
});

// ---------------------------------------------------------------- the contract, through the CLI

test('a sample through the real CLI: exit 2, one line, no state dir, no connection, bounded time', async (t) => {
  const wire = await tripwire();
  t.teardown(() => wire.close());
  const opts = { seed: SEED, numRuns: 6 };
  const recipes = fc.sample(fc.tuple(badRecipe, encoding, fc.double({ min: 0, max: 1, noNaN: true })), opts);
  const configs = fc.sample(fc.tuple(badConfig, encoding, fc.double({ min: 0, max: 1, noNaN: true })), opts);
  const ids = fc.sample(fc.tuple(badId.filter((id) => !id.includes('\u0000')), fc.constantFrom(['status'], ['history'], ['pause'], ['budget', '--generations', '2'], ['retry'])), opts);
  const runs: Array<{ name: string; args: string[] }> = [
    ...recipes.map(([r, how, cut], i) => ({ name: `recipe ${i} (${how})`, args: ['compile', '--model', 'qwen3-235b-a22b', '--hardware', 'a100-80gb', '--gpus', '2', '--recipe', writeInput(r, how, cut)] })),
    ...configs.map(([c, how, cut], i) => ({ name: `config ${i} (${how})`, args: ['start', '--config', writeInput(c, how, cut)] })),
    // argv cannot carry NUL; the rest of the id arbitrary goes through as is.
    ...ids.map(([id, [command, ...rest]], i) => ({ name: `id ${i} (${command})`, args: [command!, id, ...rest] })),
  ];
  const results = await inBatches(
    runs.map((run, i) => async () => {
      const state = path.join(work, `cli-state-${i}`);
      const r = await spawnCli(run.args, { env: badInputEnv(state, wire), timeoutMs: MAX_CLI_MS + 10_000 });
      return { run, r, problems: contractBreaks(r, state, MAX_CLI_MS) };
    }),
  );
  for (const { run, r, problems } of results) t.deepEqual(problems, [], `${run.name}: ${JSON.stringify(r.stderr.slice(0, 300))}`);
  t.is(wire.connections(), 0, 'no command connected to Temporal or Postgres');
});
