// The evaluation entry random search and Optuna's TPE share (benchmarks/search/evaluation.ts):
//   node --import tsx benchmarks/search/evaluate-recipe.ts --work-dir DIR --genes '{"bits":2,…}'
//   node --import tsx benchmarks/search/evaluate-recipe.ts --work-dir DIR --recipe file.json
//   node --import tsx benchmarks/search/evaluate-recipe.ts --work-dir DIR --serve
// One shot prints one JSON record. --serve prints {"ready":…} with the bf16 baseline, then answers
// each stdin line ({"genes":…} or {"recipe":…}) with one JSON record line, keeping the calibrated
// proxy in memory between requests. Bad input: one line on stderr, exit 2 (one-shot) or an error record.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { parseRecipe } from '../../schema/recipe.js';
import { SearchEvaluator, type EvaluationRecord } from './evaluation.js';
import { GenesSchema } from './gene-space.js';

const Request = z.union([z.strictObject({ genes: GenesSchema }), z.strictObject({ recipe: z.unknown() })]);

function fail(message: string): never {
  process.stderr.write(`evaluate-recipe: ${message}\n`);
  process.exit(2);
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) fail(`${name} needs a value`);
  return v;
}

const known = new Set(['--work-dir', '--genes', '--recipe', '--serve']);
for (const a of process.argv.slice(2)) if (a.startsWith('--') && !known.has(a)) fail(`unknown argument ${a} (expected ${[...known].join(', ')})`);
const workDir = flag('--work-dir') ?? fail('--work-dir is required');
const evaluator = new SearchEvaluator(workDir);

async function answer(raw: unknown): Promise<EvaluationRecord> {
  const req = Request.parse(raw);
  return 'genes' in req ? evaluator.evaluateGenes(req.genes) : evaluator.evaluateRecipe(parseRecipe(req.recipe));
}

if (process.argv.includes('--serve')) {
  process.stdout.write(`${JSON.stringify({ ready: true, ...(await evaluator.info()) })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    try {
      process.stdout.write(`${JSON.stringify(await answer(JSON.parse(line)))}\n`);
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? err.message.split('\n')[0] : String(err) })}\n`);
    }
  }
} else {
  const genes = flag('--genes');
  const recipe = flag('--recipe');
  if ((genes === undefined) === (recipe === undefined)) fail('give exactly one of --genes, --recipe or --serve');
  let raw: unknown;
  try {
    raw = genes !== undefined ? { genes: JSON.parse(genes) } : { recipe: JSON.parse(readFileSync(recipe!, 'utf8')) };
    Request.parse(raw);
  } catch (err) {
    fail(err instanceof z.ZodError ? `bad request: ${err.issues[0]?.path.join('.')} ${err.issues[0]?.message}` : err instanceof Error ? err.message.split('\n')[0] : String(err));
  }
  console.log(JSON.stringify(await answer(raw), null, 2));
}
