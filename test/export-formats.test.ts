// The text exports (gptqmodel, llmcompressor, llama.cpp) of real quantized proxies, read back the way
// each tool reads them: every module of the proxy must get exactly the spec the quantized model
// stored, under both the Mixtral checkpoint names and the runtime names the tools use. Recipes the
// target stack's table refuses are refused by export with the rule compile names, writing nothing.
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportRefusedError } from '../science/export/errors.js';
import { GPTQMODEL_FILE, GPTQMODEL_RULE_ORDER, gptqOverride, type GptqModelConfig } from '../science/export/gptqmodel.js';
import { mixtralModuleName, runtimeModuleName } from '../science/export/hf-names.js';
import { ggmlTypeOf } from '../science/export/llama-cpp-types.js';
import { ggufTensorOf, ggufTensors, QUANTIZE_SCRIPT, TENSOR_TYPE_FILE } from '../science/export/llama-cpp.js';
import { LLMCOMPRESSOR_FILE, weightArgs } from '../science/export/llmcompressor.js';
import { readQuantizedModel, type ExportModule } from '../science/export/modules.js';
import { runExport } from '../science/export/run.js';
import { EXPORT_TARGETS, ruleOf } from '../science/export/servability.js';
import type { ExportFormat } from '../science/export/export-format.js';
import { MARKER_FILE } from '../science/output-dir/marker.js';
import { compileTarget } from '../science/physics/compile.js';
import { parseRecipe, type RecipeInput } from '../schema/recipe.js';
import { gptqDynamicFor, gptqEffective, llamaTypeFor, llmcTargetFor, parseLlmCompressor, parseTensorTypeFile } from './helpers/export-checks.js';
import { quantizedProxyDir } from './helpers/quantized-proxy.js';

const work = mkdtempSync(join(tmpdir(), 'export-formats-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

let serial = 0;
const fresh = (stem: string): string => join(work, `${stem}-${serial++}`);

const BF16 = { bits: 16 } as const;
const SMALL_BF16 = { router: BF16, embeddings: BF16 };
const EXPERT_ROLES = ['expert_gate', 'expert_up', 'expert_down'] as const;

// A mixed recipe vLLM loads from a GPTQ checkpoint: 4/8-bit symmetric, experts per layer.
const MIXED_SYM: RecipeInput = {
  name: 'export-mixed-sym',
  default: { bits: 4, groupSize: 128, symmetric: true },
  roles: { ...SMALL_BF16, attn_o: { bits: 8, groupSize: 'channel' }, lm_head: { bits: 8, groupSize: 128 } },
  depth: [{ from: 0.5, to: 1, roles: [...EXPERT_ROLES], override: { bits: 8, groupSize: 64 } }],
};

const GPTQ_SYM: RecipeInput = {
  name: 'export-gptq',
  default: { bits: 4, groupSize: 32, symmetric: true, method: { kind: 'gptq', actOrder: false, damp: 0.02, blockSize: 64 } },
  roles: { ...SMALL_BF16, lm_head: BF16 },
};

// llama.cpp: 32-wide blocks; 2-bit only where rows are a multiple of 256 (the experts' down projection).
const LLAMA_MIXED: RecipeInput = {
  name: 'export-llama',
  default: { bits: 4, groupSize: 32, symmetric: false },
  roles: {
    ...SMALL_BF16,
    attn_q: { bits: 8, symmetric: true },
    attn_k: { bits: 8, symmetric: true },
    attn_v: { bits: 8, symmetric: true },
    expert_down: { bits: 2 },
    lm_head: { bits: 4, symmetric: true },
  },
  depth: [{ from: 0.75, to: 1, roles: ['expert_down'], override: { bits: 8, symmetric: true } }],
};

/** Every name a tool may know a module by. */
const namesOf = (m: ExportModule): string[] => [...new Set([mixtralModuleName(m), runtimeModuleName(m)])];

async function exported(t: ExecutionContext, dir: string, format: ExportFormat): Promise<string> {
  const out = fresh(`out-${format}`);
  const result = await runExport({ quantizedDir: dir, format, out, replace: false });
  t.true(result.written);
  t.true(existsSync(join(out, MARKER_FILE)), 'the output carries evoquant marker');
  t.is(result.stack, EXPORT_TARGETS[format].stack);
  return out;
}

function checkGptqModel(t: ExecutionContext, dir: string, out: string): GptqModelConfig {
  const config = JSON.parse(readFileSync(join(out, GPTQMODEL_FILE), 'utf8')) as GptqModelConfig;
  const view = readQuantizedModel(dir);
  for (const m of view.modules) {
    if (m.projection === 'embed') {
      t.is(m.spec.bits, 16, 'GPTQModel never quantizes the embeddings');
      continue;
    }
    const want = m.spec.bits === 16 ? { bits: 16, group_size: -1, sym: true } : gptqOverride(m.spec);
    for (const name of namesOf(m)) t.deepEqual(gptqEffective(config, name), want, `${name} (${m.tensor})`);
    if (m.expert !== null) {
      // The merged experts module resolves like every expert below it.
      const merged = `model.layers.${m.layer}.mlp.experts`;
      t.deepEqual(gptqDynamicFor(config, merged), gptqDynamicFor(config, runtimeModuleName(m)), merged);
    }
  }
  // Rules compile as regexes and are listed in the documented order: module kind, then first layer.
  const kindOf = (m: ExportModule): string => (m.expert !== null ? 'experts' : m.projection);
  const order = Object.keys(config.dynamic).map((key) => {
    const re = new RegExp(key.slice(2));
    const hits = view.modules.filter((m) => re.test(runtimeModuleName(m)));
    const kinds = [...new Set(hits.map(kindOf))];
    t.is(kinds.length, 1, `${key} covers one module kind`);
    return [GPTQMODEL_RULE_ORDER.indexOf(kinds[0] as never), Math.min(...hits.map((m) => m.layer ?? -1))] as const;
  });
  t.false(order.some(([k]) => k < 0), 'every rule names a known module kind');
  t.deepEqual(order, [...order].sort((a, b) => a[0] - b[0] || a[1] - b[1]), 'rule order is stable');
  return config;
}

function checkLlmCompressor(t: ExecutionContext, dir: string, out: string): ReturnType<typeof parseLlmCompressor> {
  const text = readFileSync(join(out, LLMCOMPRESSOR_FILE), 'utf8');
  t.false(/![A-Za-z!<]/.test(text), 'plain YAML: no tags');
  t.false(/[&*][A-Za-z0-9_]/.test(text.replace(/re:[^\n]*/g, '')), 'plain YAML: no anchors or aliases');
  const parsed = parseLlmCompressor(text);
  const view = readQuantizedModel(dir);
  for (const m of view.modules) {
    for (const name of namesOf(m)) {
      const got = llmcTargetFor(parsed.args, name);
      if (m.spec.bits === 16) {
        t.deepEqual(got.weights, [], `${name} is in no config group`);
        t.true(got.ignored || m.projection === 'embed', `${name} is ignored`);
      } else {
        t.false(got.ignored, `${name} is not ignored`);
        t.deepEqual(got.weights, [weightArgs(m.spec)], `${name} matches exactly one config group, with its spec`);
      }
    }
  }
  return parsed;
}

function checkLlamaCpp(t: ExecutionContext, dir: string, out: string): void {
  const lines = parseTensorTypeFile(readFileSync(join(out, TENSOR_TYPE_FILE), 'utf8'));
  for (const l of lines) t.notThrows(() => new RegExp(l.regex), l.regex);
  const view = readQuantizedModel(dir);
  const byTensor = new Map<string, ExportModule[]>();
  for (const m of view.modules) byTensor.set(ggufTensorOf(m), [...(byTensor.get(ggufTensorOf(m)) ?? []), m]);
  for (const g of ggufTensors(view.config)) {
    const type = llamaTypeFor(lines, g.name);
    if (!g.quantizable) {
      t.is(type, null, `${g.name} stays in its source type`);
      continue;
    }
    const mods = byTensor.get(g.name) ?? [];
    t.true(mods.length > 0, `${g.name} is one of the proxy's modules`);
    const want = new Set(mods.map((m) => ggmlTypeOf(m.spec, m.inFeatures, m.tensor).type.toLowerCase()));
    t.is(want.size, 1, `${g.name}: one type per GGUF tensor`);
    t.is(type, [...want][0], `${g.name} gets its type from the first matching line`);
  }
  const script = readFileSync(join(out, QUANTIZE_SCRIPT), 'utf8');
  const cmd = /"\$LLAMA_CPP\/llama-quantize" --tensor-type-file "\$HERE\/tensor-types\.txt" model-bf16\.gguf (\S+\.gguf) (\S+)\n/.exec(script);
  t.truthy(cmd, 'the script runs llama-quantize with the tensor-type file');
  // Patterns apply only under a quantized ftype (llama_tensor_get_type: ggml_is_quantized(default_type)).
  t.true(['Q8_0', 'Q4_0', 'Q4_1', 'Q3_K', 'Q2_K'].includes(cmd?.[2] ?? ''), `ftype ${cmd?.[2]}`);
  t.regex(script, /convert_hf_to_gguf\.py" "\$HF_MODEL_DIR" --outtype bf16/);
}

test.serial('gptqmodel and llmcompressor: every module gets exactly its stored spec', async (t) => {
  const dir = await quantizedProxyDir(fresh('mixed'), MIXED_SYM);
  const config = checkGptqModel(t, dir, await exported(t, dir, 'gptqmodel'));
  t.like(config, { bits: 4, group_size: 128, sym: true, desc_act: false, method: 'gptq', format: 'gptq', lm_head: true, weight_only: { method: 'rtn' } });
  t.true(Object.keys(config.dynamic).some((k) => k.startsWith('-:')), 'bf16 routers are skipped with -:');
  t.true(Object.keys(config.dynamic).some((k) => /\.experts\(\?:\\\.\|\$\)$/.test(k)), 'expert rules address the merged experts module');
  const llmc = checkLlmCompressor(t, dir, await exported(t, dir, 'llmcompressor'));
  t.is(llmc.modifier, 'QuantizationModifier');
  // The same export twice is byte-identical (stable rule order).
  const again = await exported(t, dir, 'gptqmodel');
  t.is(readFileSync(join(again, GPTQMODEL_FILE), 'utf8'), readFileSync(join(await exported(t, dir, 'gptqmodel'), GPTQMODEL_FILE), 'utf8'));
});

test.serial('a GPTQ recipe becomes a GPTQModifier and a GPTQ QuantizeConfig with its damping and act order', async (t) => {
  const dir = await quantizedProxyDir(fresh('gptq'), GPTQ_SYM);
  const llmc = checkLlmCompressor(t, dir, await exported(t, dir, 'llmcompressor'));
  t.is(llmc.modifier, 'GPTQModifier');
  t.like(llmc.args, { block_size: 64, dampening_frac: 0.02, actorder: null });
  const config = checkGptqModel(t, dir, await exported(t, dir, 'gptqmodel'));
  t.like(config, { bits: 4, group_size: 32, sym: true, desc_act: false, damp_percent: 0.02, lm_head: false });
  t.is(config.weight_only, undefined);
});

test.serial('llama.cpp: the tensor-type file covers every GGUF tensor of the proxy with its type', async (t) => {
  const dir = await quantizedProxyDir(fresh('llama'), LLAMA_MIXED);
  const out = await exported(t, dir, 'llama.cpp');
  checkLlamaCpp(t, dir, out);
  const types = readFileSync(join(out, TENSOR_TYPE_FILE), 'utf8');
  for (const type of ['q8_0', 'q4_1', 'q4_0', 'q2_K', 'bf16']) t.true(types.includes(`=${type}\n`), type);
});

test.serial('a recipe the stack refuses is refused with the rule compile names, and nothing is written', async (t) => {
  // Asymmetric 4-bit: servable from compressed-tensors, not from a GPTQ checkpoint.
  const dir = await quantizedProxyDir(fresh('asym'), { name: 'export-asym', default: { bits: 4, groupSize: 128 }, roles: { ...SMALL_BF16, lm_head: BF16 } });
  const out = fresh('never');
  const err = await t.throwsAsync(runExport({ quantizedDir: dir, format: 'gptqmodel', out, replace: false }), { instanceOf: ExportRefusedError });
  t.regex(err?.message ?? '', /\[vllm\.checkpoint\.gptq; vllm\/model_executor\/layers\/quantization\/auto_gptq\.py\]/);
  t.false(existsSync(out));
  await exported(t, dir, 'llmcompressor');
  // llama.cpp: 3-bit where rows are 128 wide would silently fall back to q4_0; router types are never applied.
  for (const [name, recipe, why] of [
    ['k-quant rows', { name: 'x', default: { bits: 3, groupSize: 32, symmetric: true }, roles: SMALL_BF16 }, /ggml-quant-k: shard K 128 not a multiple of 256.*\[llama\.cpp\.kernels\.[a-z-]+; /],
    ['router', { name: 'y', default: { bits: 4, groupSize: 32, symmetric: true }, roles: { embeddings: BF16 } }, /\[llama\.cpp\.kernels\.router; src\/llama-quant\.cpp\]/],
  ] as const) {
    const d = await quantizedProxyDir(fresh(name.replace(/\W/g, '-')), recipe);
    const o = fresh('never');
    await t.throwsAsync(runExport({ quantizedDir: d, format: 'llama.cpp', out: o, replace: false }), { instanceOf: ExportRefusedError, message: why }, name);
    t.false(existsSync(o));
  }
});

// --- property: what compile admits exports and reads back; what it refuses, export refuses by the same rule.

const bitsArb = fc.constantFrom(2, 3, 4, 4, 8, 8) as fc.Arbitrary<2 | 3 | 4 | 8>;
const groupArb = fc.constantFrom<'channel' | 32 | 64 | 128>('channel', 32, 64, 128, 128);
const specArb = fc.record({ bits: bitsArb, groupSize: groupArb, symmetric: fc.constantFrom(true, true, false) });
const maybeBf16 = (p: number): fc.Arbitrary<{ bits: 16 } | null> => fc.double({ min: 0, max: 1, noNaN: true }).map((x) => (x < p ? BF16 : null));

const denseArb = fc.record({ bits: fc.constantFrom<4 | 8>(4, 8), groupSize: groupArb, symmetric: fc.constantFrom(true, true, false) });
const chance = (p: number): fc.Arbitrary<boolean> => fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }).map((x) => x < p);

// Most draws aim at what a stack serves: vLLM (4/8-bit dense layers, bf16 routers and embeddings,
// one scheme per fused group) or llama.cpp (the same with 32-wide groups everywhere); the rest take
// any value, so both sides of the property run for every format.
const recipeArb: fc.Arbitrary<RecipeInput> = fc
  .record({
    aim: chance(0.7),
    llama: chance(0.4),
    method: fc.constantFrom<RecipeInput['default']['method']>({ kind: 'rtn' }, { kind: 'rtn' }, { kind: 'rtn' }, { kind: 'gptq', actOrder: true }, { kind: 'gptq', actOrder: false }),
    base: specArb,
    attn: specArb,
    attnServed: denseArb,
    splitQkv: chance(0.15),
    o: specArb,
    oServed: denseArb,
    experts: specArb,
    splitExperts: chance(0.15),
    deepExperts: fc.option(specArb, { freq: 2 }),
    router: chance(0.2),
    embeddings: chance(0.2),
    lmHead: fc.option(specArb, { freq: 2 }),
    lmHeadServed: fc.option(denseArb, { freq: 2 }),
    kv: fc.constantFrom<16 | 8 | 4>(16, 16, 8, 4),
    tiers: chance(0.15),
    outliers: chance(0.1),
  })
  .map((g): RecipeInput => {
    const wild = !g.aim;
    const attn = wild ? g.attn : g.attnServed;
    const roles: NonNullable<RecipeInput['roles']> = {
      attn_q: attn,
      attn_k: wild && g.splitQkv ? { ...attn, bits: attn.bits === 4 ? 8 : 4 } : attn,
      attn_v: attn,
      attn_o: wild ? g.o : g.oServed,
      expert_gate: g.experts,
      expert_up: g.experts,
      expert_down: wild && g.splitExperts ? { ...g.experts, symmetric: !g.experts.symmetric } : g.experts,
      router: wild && g.router ? { bits: 4, groupSize: 32, symmetric: true } : BF16,
      embeddings: wild && g.embeddings ? { bits: 8, groupSize: 32, symmetric: true } : BF16,
      lm_head: (wild ? g.lmHead : g.lmHeadServed) ?? BF16,
    };
    if (wild && g.outliers) roles.expert_down = { ...roles.expert_down, outliers: { fraction: 0.01, criterion: 'magnitude' } };
    if (g.aim && g.llama) {
      for (const [role, spec] of Object.entries(roles)) if (spec && spec.bits !== 16) roles[role as keyof typeof roles] = { ...spec, groupSize: 32 };
    }
    const g32 = <T extends object>(spec: T): T => (g.aim && g.llama ? { ...spec, groupSize: 32 } : spec);
    return {
      name: 'export-property',
      kvCacheBits: wild ? g.kv : g.kv === 4 ? 8 : g.kv,
      default: { ...g32(g.base), method: g.method },
      roles,
      depth: g.deepExperts ? [{ from: 0.5, to: 1, roles: [...EXPERT_ROLES], override: g32(g.deepExperts) }] : [],
      ...(wild && g.tiers ? { experts: { rankBy: 'routing-frequency' as const, tiers: [{ below: 0.5, override: { bits: 8 as const } }] } } : {}),
    };
  });

type Tally = { exported: number; refused: number };
const tally: Record<string, Tally> = {};
const count = (format: string, k: keyof Tally): void => {
  tally[format] ??= { exported: 0, refused: 0 };
  tally[format][k] += 1;
};

async function exportMatchesCompile(t: ExecutionContext, dir: string, recipe: RecipeInput, format: ExportFormat): Promise<void> {
  const { stack, checkpoint } = EXPORT_TARGETS[format];
  const report = compileTarget({ model: join(dir, 'config.json'), hardware: 'a100-80gb', gpus: 1, tensorParallel: 1, stack, checkpoint }, parseRecipe(recipe));
  const refusals = report.violations.filter((v) => v.code === 'not-servable');
  const out = fresh(`prop-${format}`);
  const run = runExport({ quantizedDir: dir, format, out, replace: false });
  if (refusals.length > 0) {
    count(format, 'refused');
    const err = await t.throwsAsync(run, { instanceOf: ExportRefusedError }, `${format}: compile refuses, export must too`);
    const rule = ruleOf(refusals[0]);
    t.truthy(rule);
    t.true((err?.message ?? '').includes(`[${rule};`), `${format}: export names ${rule}: ${err?.message}`);
    t.false(existsSync(out), 'nothing written');
    return;
  }
  await run;
  count(format, 'exported');
  if (format === 'gptqmodel') checkGptqModel(t, dir, out);
  else if (format === 'llmcompressor') checkLlmCompressor(t, dir, out);
  else if (format === 'llama.cpp') checkLlamaCpp(t, dir, out);
  // compressed-tensors: loading and scoring by transformers is test/export-compressed-tensors.test.ts's.
  else t.deepEqual(readdirSync(out).filter((f) => !f.startsWith('.')).sort(), ['config.json', 'model.safetensors']);
}

test.serial('property: exports follow compile for random recipes (vllm for compressed-tensors/gptqmodel/llmcompressor, llama.cpp for its format)', async (t) => {
  t.timeout(600_000);
  await fc.assert(
    fc.asyncProperty(recipeArb, async (recipe) => {
      const dir = await quantizedProxyDir(fresh('prop'), recipe);
      for (const format of ['compressed-tensors', 'gptqmodel', 'llmcompressor', 'llama.cpp'] as const) await exportMatchesCompile(t, dir, recipe, format);
      rmSync(dir, { recursive: true, force: true });
    }),
    // The named examples make sure both sides of the property run whatever the random draws.
    { numRuns: 24, examples: [[MIXED_SYM], [LLAMA_MIXED], [{ ...MIXED_SYM, name: 'tiers', experts: { rankBy: 'routing-frequency', tiers: [{ below: 0.5, override: { bits: 8 } }] } }]] },
  );
  for (const format of ['compressed-tensors', 'gptqmodel', 'llmcompressor', 'llama.cpp']) {
    const c = tally[format];
    t.true(c !== undefined && c.exported > 0 && c.refused > 0, `${format}: ${JSON.stringify(c)}`);
  }
  t.log(`exported / refused by the stack: ${JSON.stringify(tally)}`);
  t.deepEqual(readdirSync(work).filter((f) => f.startsWith('.') && f.includes('.tmp-')), [], 'no temporary directory left behind');
});
