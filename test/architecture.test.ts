// The import rules of the house (.dependency-cruiser.cjs) hold on the real tree, with no import
// cycle between files or between folders; and each rule can fail, shown on a tiny tree that breaks
// every one of them.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import test from 'ava';
import { cruise, format, type ICruiseOptions, type ICruiseResult, type IConfiguration } from 'dependency-cruiser';
import { repoRoot } from '../engine/stack/paths.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const config = createRequire(import.meta.url)('../.dependency-cruiser.cjs') as IConfiguration;

/** Every top-level folder that holds code. */
const CODE = ['engine', 'evolution', 'science', 'workflows', 'activities', 'workers', 'schema', 'migrations', 'test', 'scripts', 'benchmarks', 'bin'];

const RULES = [
  'workflows-no-io',
  'workflows-no-db-or-stack',
  'workflows-only-activity-types',
  'migrations-only-kysely',
  'schema-self-contained',
  'science-no-engine',
  'knowledge-only-db',
  'cli-through-client',
  'no-circular',
];

async function cruiseTree(baseDir: string, folders: string[]): Promise<ICruiseResult> {
  const options: ICruiseOptions = {
    ...config.options,
    baseDir,
    tsConfig: { fileName: path.join(baseDir, 'tsconfig.json') },
    ruleSet: { forbidden: config.forbidden ?? [] },
    validate: true,
  };
  const { output } = await cruise(folders, options);
  if (typeof output === 'string') throw new Error('dependency-cruiser returned text, not a result');
  return output;
}

async function report(result: ICruiseResult): Promise<string> {
  const { output } = await format(result, { outputType: 'err' });
  return typeof output === 'string' ? output : JSON.stringify(output);
}

/** `engine/cli/x.ts` → `engine/cli`: the wings' sub-folders are the units; other folders are one each. */
function folderOf(file: string): string {
  const parts = file.split('/');
  return ['engine', 'evolution', 'science'].includes(parts[0]) && parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Folder-level cycles (Tarjan's strongly connected components of more than one folder). */
function folderCycles(result: ICruiseResult): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const m of result.modules) {
    if (m.coreModule || m.source.includes('node_modules/')) continue;
    for (const d of m.dependencies) {
      if (d.coreModule || d.resolved.includes('node_modules/') || !CODE.includes(d.resolved.split('/')[0])) continue;
      const [a, b] = [folderOf(m.source), folderOf(d.resolved)];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a)!.add(b);
    }
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

test('the import rules hold on the real tree', async (t) => {
  const result = await cruiseTree(repoRoot, CODE);
  // The tree was really read: workflows and their type-only import of the activities are in it.
  t.true(result.summary.totalCruised > 200, `only ${result.summary.totalCruised} modules cruised`);
  const generation = result.modules.find((m) => m.source === 'workflows/generation.ts');
  t.truthy(generation?.dependencies.find((d) => d.resolved === 'activities/gpu.ts' && d.dependencyTypes.includes('type-only')));
  t.is(result.summary.violations.length, 0, await report(result));
});

test('no folder depends on itself through another', async (t) => {
  const result = await cruiseTree(repoRoot, CODE.filter((f) => f !== 'test'));
  t.deepEqual(folderCycles(result), []);
});

test('a folder cycle is found, file cycles inside one folder are not one', (t) => {
  const mod = (source: string, deps: string[]) => ({ source, coreModule: false, dependencies: deps.map((resolved) => ({ resolved, coreModule: false })) });
  const synthetic = {
    modules: [
      mod('science/model/modules.ts', ['science/compression/calibration.ts']),
      mod('science/compression/calibration.ts', ['science/model/forward.ts', 'science/evaluation/windows.ts']),
      mod('science/model/forward.ts', ['science/model/ops.ts']),
      mod('science/model/ops.ts', ['science/model/forward.ts']),
      mod('science/evaluation/windows.ts', []),
    ],
  } as unknown as ICruiseResult;
  t.deepEqual(folderCycles(synthetic), [['science/compression', 'science/model']]);
});

/** One file per line that a rule forbids, beside one that the same rule allows. */
const FIXTURE: Record<string, string> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['**/*.ts'] }),
  'activities/gpu.ts': 'export const quantize = (): number => 1;\nexport type Quantize = typeof quantize;\n',
  'engine/db/rows.ts': 'export const rows = 1;\n',
  'engine/stack/paths.ts': 'export const stateDir = 1;\n',
  'engine/client/start.ts': "import { rows } from '../db/rows.js';\nexport const start = rows;\n",
  'schema/recipe.ts': "import { z } from 'zod';\nexport const Recipe = z.object({});\n",
  'workflows/types-only.ts': "import type { Quantize } from '../activities/gpu.js';\nimport { Recipe } from '../schema/recipe.js';\nexport type Q = Quantize;\nexport const r = Recipe;\n",
  'workflows/io.ts': "import { readFileSync } from 'node:fs';\nimport pg from 'pg';\nexport const io = [readFileSync, pg];\n",
  'workflows/db.ts': "import { rows } from '../engine/db/rows.js';\nexport const db = rows;\n",
  'workflows/impl.ts': "import { quantize } from '../activities/gpu.js';\nexport const q = quantize;\n",
  'migrations/0001.ts': "import { sql } from 'kysely';\nimport { Recipe } from '../schema/recipe.js';\nexport const m = [sql, Recipe];\n",
  'schema/leaky.ts': "import { rows } from '../engine/db/rows.js';\nexport const leak = rows;\n",
  'science/durable.ts': "import { proxyActivities } from '@temporalio/workflow';\nimport { Recipe } from '../schema/recipe.js';\nexport const d = [proxyActivities, Recipe];\n",
  'science/stateful.ts': "import { stateDir } from '../engine/stack/paths.js';\nexport const s = stateDir;\n",
  'evolution/proposer/propose.ts': "import { rows } from '../../engine/db/rows.js';\nexport const p = rows;\n",
  'evolution/knowledge/record.ts': "import { rows } from '../../engine/db/rows.js';\nimport { r } from '../../workflows/types-only.js';\nexport const k = [rows, r];\n",
  'engine/cli/list.ts': "import { start } from '../client/start.js';\nimport { rows } from '../db/rows.js';\nexport const l = [start, rows];\n",
  'science/a.ts': "import { b } from './b.js';\nexport const a = (): number => b();\n",
  'science/b.ts': "import { a } from './a.js';\nexport const b = (): number => a();\n",
};

test('each rule catches what it forbids and lets through what it allows', async (t) => {
  t.deepEqual((config.forbidden ?? []).map((r) => r.name), RULES, 'a new rule needs a line in FIXTURE that breaks it');
  const dir = makeTempDir('depcruise');
  t.teardown(() => removeTempDir(dir));
  for (const [file, text] of Object.entries(FIXTURE)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  const result = await cruiseTree(dir, ['activities', 'engine', 'evolution', 'migrations', 'schema', 'science', 'workflows']);
  const found = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to.replace(/^.*node_modules\//, 'node_modules/')}`).sort();
  const expected: Array<[string, string, RegExp]> = [
    ['workflows-no-io', 'workflows/io.ts', /→ (node:)?fs$/],
    ['workflows-no-io', 'workflows/io.ts', /→ node_modules\/pg\//],
    ['workflows-no-db-or-stack', 'workflows/db.ts', /→ engine\/db\/rows\.ts$/],
    ['workflows-only-activity-types', 'workflows/impl.ts', /→ activities\/gpu\.ts$/],
    ['migrations-only-kysely', 'migrations/0001.ts', /→ schema\/recipe\.ts$/],
    ['schema-self-contained', 'schema/leaky.ts', /→ engine\/db\/rows\.ts$/],
    ['science-no-engine', 'science/durable.ts', /→ node_modules\/@temporalio\/workflow\//],
    ['science-no-engine', 'science/stateful.ts', /→ engine\/stack\/paths\.ts$/],
    ['science-no-engine', 'evolution/proposer/propose.ts', /→ engine\/db\/rows\.ts$/],
    ['knowledge-only-db', 'evolution/knowledge/record.ts', /→ workflows\/types-only\.ts$/],
    ['cli-through-client', 'engine/cli/list.ts', /→ engine\/db\/rows\.ts$/],
    ['no-circular', 'science/a.ts', /→ science\/b\.ts$/],
  ];
  for (const [rule, from, target] of expected) {
    t.true(
      found.some((f) => f.startsWith(`${rule}: ${from} →`) && target.test(f)),
      `${rule} did not flag ${from} ${target}; found:\n${found.join('\n')}`,
    );
  }
  // Nothing else: the allowed lines (type-only activity import, schema and kysely in migrations,
  // engine/db from knowledge, engine/client from the CLI, zod from schema) are not violations.
  t.is(found.length, expected.length, found.join('\n'));
  t.deepEqual([...new Set(found.map((f) => f.split(':')[0]))].sort(), [...RULES].sort(), 'every rule failed at least once');
});
