// The optional LLM architect against a real local OpenAI-compatible server (node:http on 127.0.0.1):
// good plan and recipe replies become servable children; malformed, truncated and hostile replies are
// repaired once or discarded, never executed; transport failures are outcomes, not exceptions; the
// prompt carries the chain of thought and the bearer key travels only when configured.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { z } from 'zod';
import {
  buildPrompt,
  llmArchitect,
  replyJson,
  replySchema,
  type ArchitectParent,
  type LlmArchitectInput,
  type LlmArchitectOutcome,
} from '../evolution/agents/llm-architect/index.js';
import { MAX_PROMPT_PARENTS, MAX_USER_CHARS } from '../evolution/agents/llm-architect/prompt.js';
import { candidateId } from '../evolution/proposer/candidate-id.js';
import { servingContext } from '../evolution/proposer/serving-context.js';
import { TECHNIQUE_IDS } from '../evolution/proposer/techniques.js';
import { compileTarget } from '../science/physics/compile.js';
import { unservableSites } from '../science/physics/servable-recipe.js';
import { builtinRecipe } from '../science/recipes/builtin.js';
import { ChainOfThought, LlmArchitectConfig } from '../schema/agents.js';
import type { Recipe } from '../schema/recipe.js';
import { completion, hang, huge, raw, redirect, stall, startChatServer, status, type Answer, type ChatServer, type SeenRequest } from './helpers/openai-server.js';

const EVOLUTION = 'evo-llm-test';
const TARGET = { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 1, stack: 'vllm', context: 4096 };
const COMPILE_TARGET = { model: TARGET.model, hardware: TARGET.hardware, gpus: 1, tensorParallel: 1, contextLength: 4096, stack: 'vllm' as const };
const SERVING = servingContext({ model: TARGET.model, hardware: TARGET.hardware, stack: 'vllm' });

function builtin(name: string): Recipe {
  const r = builtinRecipe(name);
  if (!r) throw new Error(`no builtin ${name}`);
  return r;
}

/** A frontier parent with its real compiled memory on the target (no proxy measurement: kl null). */
function parent(name: string): ArchitectParent {
  const recipe = builtin(name);
  const report = compileTarget(COMPILE_TARGET, recipe);
  return { id: candidateId(EVOLUTION, recipe), recipe, gbPerGpu: report.perGpu.totalBytes / 1e9, kl: null, fits: report.fits };
}

const RTN = parent('w4a16-g128-rtn');
const SENSITIVE = parent('moe-layers-sensitive4-rest3');
const PARENTS = [RTN, SENSITIVE];

const CHAIN = ChainOfThought.parse({
  id: `chain:${EVOLUTION}/gen-1`,
  evolutionId: EVOLUTION,
  generation: 1,
  family: 'moe/vllm/tight',
  guidance: 'graph',
  frontier: PARENTS.map((p) => p.id),
  applied: [],
  steps: [
    {
      pattern: 'error-compensation',
      innovation: 'gptq',
      operator: 'gptq',
      from: ['obq'],
      why: 'The frontier rounds to nearest; GPTQ compensates each column’s rounding error with the Hessian.',
      memory: { direction: 'same', measuredMean: null },
      loss: { direction: 'less', measuredMean: -0.012 },
      score: 1.4,
      evidence: 'other-evolutions',
    },
    {
      pattern: 'mixed-precision-sensitivity-routing',
      innovation: 'mxmoe',
      operator: 'expert-layer-tiers',
      from: ['hawq'],
      why: 'Experts of the least sensitive layers can take fewer bits: the memory the target needs.',
      memory: { direction: 'less', measuredMean: -9.5 },
      loss: { direction: 'more', measuredMean: null },
      score: 0.9,
      evidence: 'none',
    },
  ],
});

const CONFIG = (baseUrl: string, extra: Partial<LlmArchitectConfig> = {}): LlmArchitectConfig =>
  LlmArchitectConfig.parse({ baseUrl, model: 'architect-test', timeoutSeconds: 5, ...extra });

function input(server: ChatServer, over: Partial<LlmArchitectInput> = {}): LlmArchitectInput {
  return {
    config: CONFIG(server.baseUrl),
    chain: CHAIN,
    parents: PARENTS,
    target: TARGET,
    evolutionId: EVOLUTION,
    generation: 1,
    populationSize: 4,
    archiveIds: new Set(PARENTS.map((p) => p.id)),
    serving: SERVING,
    seed: 7,
    ...over,
  };
}

async function withServer(script: Answer[], run: (server: ChatServer) => Promise<void>): Promise<void> {
  const server = await startChatServer(script);
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

type Message = { role: string; content: string };
const messagesOf = (r: SeenRequest): Message[] => (r.body as { messages: Message[] }).messages;
const promptText = (r: SeenRequest): string => messagesOf(r).map((m) => m.content).join('\n');

const planReply = (proposals: Array<{ parent: string; step: number | null; ops: string[]; why?: string }>): string =>
  JSON.stringify({ proposals: proposals.map((p) => ({ parent: p.parent, step: p.step, plan: p.ops.map((operator) => ({ operator })), rationale: p.why ?? 'follow the chain' })) });

const GOOD_PLAN = planReply([
  { parent: RTN.id, step: 0, ops: ['gptq'], why: 'GPTQ keeps 4 bits and compensates rounding error' },
  { parent: RTN.id, step: 1, ops: ['gptq', 'expert-layer-tiers'], why: 'cold layers at fewer bits, with GPTQ' },
  { parent: SENSITIVE.id, step: null, ops: ['kv-cache-8bit'], why: 'an 8-bit KV cache frees memory' },
]);

function proposalsOf(t: { fail(m: string): void }, outcome: LlmArchitectOutcome) {
  if (outcome.kind !== 'proposals') {
    t.fail(`discarded: ${outcome.reason}`);
    throw new Error('unreachable');
  }
  return outcome.proposals;
}

/** Every issue's path, union branches included (their paths are relative to the union). */
function issuePaths(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): string[] {
  return issues.flatMap((i) => {
    const here = [...prefix, ...i.path];
    return i.code === 'invalid_union' ? i.errors.flatMap((branch) => issuePaths(branch, here)) : [here.map(String).join('.')];
  });
}

function assertServable(t: { deepEqual(a: unknown, b: unknown, m?: string): void }, recipe: Recipe): void {
  t.deepEqual(unservableSites(SERVING.table, SERVING.hw, recipe, SERVING.roles), [], `${recipe.name} is servable on vllm / A100`);
}

test('a good plan reply: the operators are applied in order to the parent, children are servable and new, and the prompt carries the chain', async (t) => {
  await withServer([completion(GOOD_PLAN)], async (server) => {
    const outcome = await llmArchitect({ env: {} }, input(server));
    const proposals = proposalsOf(t, outcome);
    t.is(server.requests.length, 1);
    t.deepEqual(outcome.attempts.map((a) => a.verdict), ['valid']);
    t.is(proposals.length, 3);
    t.deepEqual(proposals.map((p) => p.parents), [[RTN.id], [RTN.id], [SENSITIVE.id]]);
    t.deepEqual(proposals.map((p) => p.step), [0, 1, null]);
    t.true(proposals.every((p) => p.operation === 'llm' && p.generation === 1));
    // Credit goes to the chain step's operator when the plan carries it.
    t.deepEqual(proposals.map((p) => p.technique), ['gptq', 'expert-layer-tiers', 'kv-cache-8bit']);
    t.is(proposals[0].recipe.default.method.kind, 'gptq');
    t.is(proposals[0].recipe.default.bits, 4);
    t.is(proposals[1].recipe.default.method.kind, 'gptq');
    t.truthy(proposals[1].recipe.expertLayers, 'the second operator of the plan ran after the first');
    t.is(proposals[2].recipe.kvCache?.keys.format, 'fp8_e4m3');
    t.is(proposals[2].recipe.description, 'an 8-bit KV cache frees memory');
    t.is(proposals[1].recipe.name, 'w4a16-g128-rtn+gptq+expert-layer-tiers');
    for (const p of proposals) {
      assertServable(t, p.recipe);
      t.is(p.id, candidateId(EVOLUTION, p.recipe));
      t.false(PARENTS.some((x) => x.id === p.id));
    }
    // The 2-step child needs less memory than its parent on the target: the operators really ran.
    const gb = compileTarget(COMPILE_TARGET, proposals[1].recipe).perGpu.totalBytes / 1e9;
    t.true(gb < RTN.gbPerGpu!, `${gb} < ${RTN.gbPerGpu}`);

    const req = server.requests[0];
    t.is(req.url, '/v1/chat/completions');
    t.is(req.headers.authorization, undefined, 'no key configured: no Authorization header');
    const body = req.body as { model: string; max_tokens: number; temperature: number; messages: Message[] };
    t.is(body.model, 'architect-test');
    t.is(body.max_tokens, 2048);
    t.deepEqual(body.messages.map((m) => m.role), ['system', 'user']);
    const text = promptText(req);
    for (const step of CHAIN.steps) {
      for (const s of [step.why, step.innovation, step.operator, step.pattern]) t.true(text.includes(s), `the prompt carries "${s}"`);
    }
    for (const p of PARENTS) t.true(text.includes(p.id), 'the prompt names each parent');
    t.true(text.includes('qwen3-235b-a22b') && text.includes('a100-80gb'), 'the prompt names the target');
    t.true(text.includes('"$schema"'), 'the prompt carries the reply JSON Schema');
    // The user message is data: it parses as JSON after its one-line header.
    const user = body.messages[1].content;
    const data = JSON.parse(user.slice(user.indexOf('\n') + 1)) as { chainOfThought: { steps: Array<{ why: string }> }; populationSize: number };
    t.deepEqual(data.chainOfThought.steps.map((s) => s.why), CHAIN.steps.map((s) => s.why));
    t.is(data.populationSize, 4);
  });
});

test('the same reply and seed give the same children (operators draw from a seeded stream)', async (t) => {
  const reply = planReply([{ parent: RTN.id, step: null, ops: ['group-size'] }, { parent: SENSITIVE.id, step: null, ops: ['group-size'] }]);
  const ids: string[][] = [];
  for (let i = 0; i < 2; i++) {
    await withServer([completion(reply)], async (server) => {
      ids.push(proposalsOf(t, await llmArchitect({ env: {} }, input(server))).map((p) => p.id));
    });
  }
  t.is(ids[0].length, 2);
  t.deepEqual(ids[0], ids[1]);
});

test('the bearer key is sent only when apiKeyEnv names a non-empty variable, and never appears in the outcome', async (t) => {
  const KEY = 'sk-test-9f8e7d6c5b4a';
  // The hostile server quotes the key back in an invalid reply, twice.
  const echoKey: Answer = (res, req) => completion(JSON.stringify({ proposals: [], [String(req.headers.authorization)]: 'thanks' }))(res, req);
  await withServer([echoKey, echoKey], async (server) => {
    const outcome = await llmArchitect({ env: { LLM_KEY: KEY } }, input(server, { config: CONFIG(server.baseUrl, { apiKeyEnv: 'LLM_KEY' }) }));
    t.is(outcome.kind, 'discarded');
    t.is(server.requests.length, 2);
    t.true(server.requests.every((r) => r.headers.authorization === `Bearer ${KEY}`));
    t.false(JSON.stringify(outcome).includes(KEY), 'the key is redacted from every message');
    t.true(JSON.stringify(outcome).includes('***'));
  });
  await withServer([completion(GOOD_PLAN)], async (server) => {
    const outcome = await llmArchitect({ env: { LLM_KEY: '' } }, input(server, { config: CONFIG(server.baseUrl, { apiKeyEnv: 'LLM_KEY' }) }));
    t.is(outcome.kind, 'proposals');
    t.is(server.requests[0].headers.authorization, undefined, 'an empty variable sends no header');
  });
  await withServer([completion(GOOD_PLAN)], async (server) => {
    await llmArchitect({ env: {} }, input(server, { config: CONFIG(server.baseUrl, { apiKeyEnv: 'LLM_KEY' }) }));
    t.is(server.requests[0].headers.authorization, undefined, 'an unset variable sends no header');
  });
});

test('a good recipe reply (fenced in ```json) is validated by Recipe and moved onto what vLLM serves', async (t) => {
  // Per-expert tiers: vLLM runs one scheme per layer's fused experts, so the snap turns them into layer tiers.
  const recipe = {
    name: 'anything the model calls it',
    default: { bits: 4, groupSize: 128, method: { kind: 'gptq' } },
    roles: { router: { bits: 16 }, embeddings: { bits: 16 }, lm_head: { bits: 16 } },
    experts: { rankBy: 'routing-frequency', tiers: [{ below: 0.5, override: {} }, { below: 1, override: { bits: 3 } }] },
    kvCacheBits: 8,
  };
  const reply = '```json\n' + JSON.stringify({ proposals: [{ parent: RTN.id, step: 1, recipe, rationale: 'cold experts at 3 bits' }] }, null, 2) + '\n```';
  await withServer([completion(reply)], async (server) => {
    const [p] = proposalsOf(t, await llmArchitect({ env: {} }, input(server)));
    t.is(p.technique, null, 'a whole recipe applies no single operator');
    t.is(p.step, 1);
    t.is(p.recipe.experts, undefined, 'per-expert tiers are not servable on vLLM');
    t.deepEqual(p.recipe.expertLayers?.tiers.map((x) => x.below), [0.5, 1]);
    t.is(p.recipe.default.method.kind, 'gptq');
    t.is(p.recipe.kvCache?.keys.format, 'fp8_e4m3', 'the legacy kvCacheBits 8 of a reply is an fp8 e4m3 cache');
    t.is(p.recipe.name, 'w4a16-g128-rtn+llm', 'the child is named by its lineage, not by the reply');
    assertServable(t, p.recipe);
  });
});

test('malformed JSON, then a good repair: two requests, the second quotes the error', async (t) => {
  const bad = '{"proposals": [{"parent": "' + RTN.id + '", "step": 0, "plan": [{"operator": "gptq"}], "rationale": "x",}]}';
  await withServer([completion(bad), completion(GOOD_PLAN)], async (server) => {
    const outcome = await llmArchitect({ env: {} }, input(server));
    t.is(proposalsOf(t, outcome).length, 3);
    t.deepEqual(outcome.attempts.map((a) => [a.request, a.verdict]), [[1, 'invalid'], [2, 'valid']]);
    t.is(server.requests.length, 2);
    const second = messagesOf(server.requests[1]);
    t.deepEqual(second.map((m) => m.role), ['system', 'user', 'assistant', 'user']);
    t.is(second[2].content, bad, 'the rejected reply is quoted back');
    t.regex(second[3].content, /not accepted:\n- reply is not valid JSON/);
    t.deepEqual(second.slice(0, 2), messagesOf(server.requests[0]), 'the repair keeps the original prompt');
  });
});

test('malformed twice: discarded after exactly two requests, saying why', async (t) => {
  await withServer([completion('Sure! Here are my proposals: gptq then kv-cache-8bit.'), completion('{"proposals": [')], async (server) => {
    const outcome = await llmArchitect({ env: {} }, input(server));
    t.is(outcome.kind, 'discarded');
    t.is(server.requests.length, 2);
    t.deepEqual(outcome.attempts.map((a) => a.verdict), ['invalid', 'invalid']);
    if (outcome.kind === 'discarded') t.regex(outcome.reason, /both rejected: reply is not valid JSON/);
  });
});

test('truncated replies (finish_reason length, cut JSON): repaired once, else discarded', async (t) => {
  const cut = GOOD_PLAN.slice(0, Math.floor(GOOD_PLAN.length / 2));
  await withServer([completion(cut, 'length'), completion(cut, 'length')], async (server) => {
    const outcome = await llmArchitect({ env: {} }, input(server));
    t.is(outcome.kind, 'discarded');
    t.deepEqual(outcome.attempts.map((a) => a.verdict), ['truncated', 'truncated']);
    t.regex(messagesOf(server.requests[1])[3].content, /cut at the token limit/);
  });
  await withServer([completion(cut, 'length'), completion(GOOD_PLAN)], async (server) => {
    const outcome = await llmArchitect({ env: {} }, input(server));
    t.deepEqual(outcome.attempts.map((a) => a.verdict), ['truncated', 'valid']);
    t.is(proposalsOf(t, outcome).length, 3);
  });
  // A complete JSON document still counts as cut when the server says the limit was hit.
  await withServer([completion(GOOD_PLAN, 'length'), completion(GOOD_PLAN, 'length')], async (server) => {
    t.is((await llmArchitect({ env: {} }, input(server))).kind, 'discarded');
  });
});

test('hostile code replies are never executed', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'llm-architect-'));
  const marker = path.join(dir, 'pwned');
  const g = globalThis as { __llmPwned?: unknown };
  try {
    const js = `require('child_process').exec('touch ${marker}')`;
    const fencedJs = '```js\nglobalThis.__llmPwned = true; require("child_process").execSync("touch ' + marker + '")\n```';
    await withServer([completion(js), completion(fencedJs)], async (server) => {
      const outcome = await llmArchitect({ env: {} }, input(server));
      t.is(outcome.kind, 'discarded');
      t.deepEqual(outcome.attempts.map((a) => a.verdict), ['invalid', 'invalid']);
    });
    // A JSON object whose strings are code stays a string: the rationale regex and the schema refuse it.
    const inJson = JSON.stringify({ proposals: [{ parent: RTN.id, step: 0, plan: [{ operator: `gptq'); require('child_process').exec('touch ${marker}` }], rationale: 'x' }] });
    const fn = `{"proposals": [{"parent": "${RTN.id}", "step": 0, "plan": [{"operator": "gptq"}], "rationale": (function(){ globalThis.__llmPwned = true; return 'x' })()}]}`;
    await withServer([completion(inJson), completion(fn)], async (server) => {
      const outcome = await llmArchitect({ env: {} }, input(server));
      t.is(outcome.kind, 'discarded');
      if (outcome.kind === 'discarded') t.regex(outcome.attempts[0].detail, /reply\.proposals\[0\]\.plan\[0\]\.operator: unknown operator/);
    });
    t.false(existsSync(marker), 'no process was spawned');
    t.is(g.__llmPwned, undefined, 'no code ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prototype pollution: __proto__ and constructor keys are refused, and Object.prototype stays clean', async (t) => {
  const recipeWithProto = `{"proposals": [{"parent": "${RTN.id}", "step": 0, "recipe": {"name": "x", "default": {"bits": 4}, "roles": {"__proto__": {"polluted": true}}}, "rationale": "x"}]}`;
  await withServer([completion('{"__proto__": {"polluted": true}}'), completion(recipeWithProto)], async (server) => {
    const outcome = await llmArchitect({ env: {} }, input(server));
    t.is(outcome.kind, 'discarded');
    t.regex(outcome.attempts[0].detail, /key "__proto__" is not allowed/);
  });
  await withServer([completion('{"constructor": {"prototype": {"polluted": true}}}'), completion(`{"proposals": [], "__proto__": {"polluted": true}}`)], async (server) => {
    t.is((await llmArchitect({ env: {} }, input(server))).kind, 'discarded');
  });
  t.is(({} as { polluted?: unknown }).polluted, undefined);
  t.is((Object.prototype as { polluted?: unknown }).polluted, undefined);
  // Without the key filter, the strict schema alone refuses the same documents (JSON.parse makes
  // __proto__ an own key; zod's strict objects reject it instead of copying it).
  const schema = replySchema({ parents: [RTN.id], operators: [...TECHNIQUE_IDS], steps: 2 });
  for (const text of ['{"__proto__": {"polluted": true}}', recipeWithProto, `{"proposals": [{"parent": "${RTN.id}", "step": 0, "plan": [{"operator": "gptq", "__proto__": {"polluted": true}}], "rationale": "x"}]}`]) {
    t.false(schema.safeParse(JSON.parse(text)).success, text);
    t.false(replyJson(text).ok, text);
  }
  t.is(({} as { polluted?: unknown }).polluted, undefined);
});

test('a 10 MB body is cut off at the cap and discarded; an oversized reply under it is repaired', async (t) => {
  await withServer([huge(10 * 1024 * 1024)], async (server) => {
    const started = Date.now();
    const outcome = await llmArchitect({ env: {} }, input(server));
    t.is(outcome.kind, 'discarded');
    t.deepEqual(outcome.attempts.map((a) => a.verdict), ['transport']);
    if (outcome.kind === 'discarded') t.regex(outcome.reason, /response body over 262144 bytes/);
    t.true(Date.now() - started < 4000);
  });
  // 100 KiB of content inside a valid document: over the 64 KiB reply cap.
  const padded = JSON.stringify({ proposals: [{ parent: RTN.id, step: 0, plan: [{ operator: 'gptq' }], rationale: 'x' }], pad: 'y'.repeat(100 * 1024) });
  await withServer([completion(padded), completion(GOOD_PLAN)], async (server) => {
    const outcome = await llmArchitect({ env: {} }, input(server));
    t.deepEqual(outcome.attempts.map((a) => a.verdict), ['invalid', 'valid']);
    t.regex(outcome.attempts[0].detail, /over the 65536-byte limit/);
    t.true(messagesOf(server.requests[1])[2].content.length < 10 * 1024, 'the repair quotes only the head of an oversized reply');
  });
});

test('unknown operators, an unknown parent and absurd recipe values are invalid, and the repair names them', async (t) => {
  const unknownOp = planReply([{ parent: RTN.id, step: 0, ops: ['gptq', 'delete-all-weights'] }]);
  const unknownParent = planReply([{ parent: 'cand_00000000000000000000000000000000', step: 0, ops: ['gptq'] }]);
  const absurd = JSON.stringify({ proposals: [{ parent: RTN.id, step: 0, recipe: { name: 'x', default: { bits: 1, groupSize: -5 } }, rationale: 'x' }] });
  const badStep = planReply([{ parent: RTN.id, step: 9, ops: ['gptq'] }]);
  const both = JSON.stringify({ proposals: [{ parent: RTN.id, step: 0, plan: [{ operator: 'gptq' }], recipe: RTN.recipe, rationale: 'x' }] });
  const multiline = planReply([{ parent: RTN.id, step: 0, ops: ['gptq'], why: 'line one\n\u001b[31mline two' }]);
  const cases: Array<[string, string, RegExp]> = [
    ['unknown operator', unknownOp, /reply\.proposals\[0\]\.plan\[1\]\.operator: unknown operator/],
    ['unknown parent', unknownParent, /reply\.proposals\[0\]\.parent: unknown parent/],
    ['bits 1', absurd, /reply\.proposals\[0\]\.recipe\.default\.bits: bits must be one of 2, 3, 4, 8 or 16/],
    ['step out of the chain', badStep, /reply\.proposals\[0\]\.step/],
    ['plan and recipe both', both, /reply\.proposals\[0\]/],
    ['control characters in the rationale', multiline, /rationale must be one line of plain text/],
  ];
  for (const [what, bad, error] of cases) {
    await withServer([completion(bad), completion(bad)], async (server) => {
      const outcome = await llmArchitect({ env: {} }, input(server));
      t.is(outcome.kind, 'discarded', what);
      t.is(server.requests.length, 2, what);
      t.regex(messagesOf(server.requests[1])[3].content, error, what);
    });
  }
  // groupSize -5 is reported too (the JSON Schema cannot say it; the zod refinement does).
  const r = replySchema({ parents: [RTN.id], operators: [...TECHNIQUE_IDS], steps: 2 }).safeParse(JSON.parse(absurd));
  t.false(r.success);
  t.true(!r.success && issuePaths(r.error.issues).includes('proposals.0.recipe.default.groupSize'), !r.success ? issuePaths(r.error.issues).join(' ') : '');
});

test('HTTP 500, 429, a non-JSON body, a refused connection and a hung server are discarded without a repair', async (t) => {
  const cases: Array<[string, Answer, RegExp]> = [
    ['500', status(500, 'internal error'), /answered HTTP 500$/],
    ['429', status(429, 'slow down', { 'retry-after': '30' }), /HTTP 429 \(rate limited, retry after 30\)/],
    ['html', status(200, '<html><body>gateway</body></html>'), /not JSON/],
    ['not a completion', status(200, '{"error": {"message": "model not found"}}'), /not a chat completion/],
    ['not UTF-8', raw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), /not UTF-8/],
  ];
  for (const [what, answer, reason] of cases) {
    await withServer([answer], async (server) => {
      const outcome = await llmArchitect({ env: {} }, input(server));
      t.is(outcome.kind, 'discarded', what);
      t.is(server.requests.length, 1, what);
      if (outcome.kind === 'discarded') t.regex(outcome.reason, reason, what);
    });
  }
  const closed = await startChatServer([]);
  const closedUrl = closed.baseUrl;
  await closed.close();
  const refused = await llmArchitect({ env: {} }, { ...input(closed), config: CONFIG(closedUrl) });
  t.is(refused.kind, 'discarded');
  t.deepEqual(refused.attempts.map((a) => a.verdict), ['transport']);
  if (refused.kind === 'discarded') t.regex(refused.reason, /cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: ECONNREFUSED/);

  await withServer([hang()], async (server) => {
    const started = Date.now();
    const outcome = await llmArchitect({ env: {} }, input(server, { config: CONFIG(server.baseUrl, { timeoutSeconds: 1 }) }));
    const elapsed = Date.now() - started;
    t.is(outcome.kind, 'discarded');
    t.deepEqual(outcome.attempts.map((a) => a.verdict), ['timeout']);
    if (outcome.kind === 'discarded') t.regex(outcome.reason, /did not answer within 1 s/);
    t.true(elapsed >= 900 && elapsed < 4000, `${elapsed} ms`);
  });
});

test('a body that stalls after its headers times out; a redirect is not followed, so the key never reaches another origin', async (t) => {
  await withServer([stall()], async (server) => {
    const started = Date.now();
    const outcome = await llmArchitect({ env: {} }, input(server, { config: CONFIG(server.baseUrl, { timeoutSeconds: 1 }) }));
    t.deepEqual(outcome.attempts.map((a) => a.verdict), ['timeout']);
    t.true(Date.now() - started < 4000);
  });
  const KEY = 'sk-redirect-0a1b2c3d';
  await withServer([completion(GOOD_PLAN)], async (elsewhere) => {
    await withServer([redirect(`${elsewhere.baseUrl}/chat/completions`)], async (server) => {
      const outcome = await llmArchitect({ env: { K: KEY } }, input(server, { config: CONFIG(server.baseUrl, { apiKeyEnv: 'K' }) }));
      t.is(outcome.kind, 'discarded');
      t.deepEqual(outcome.attempts.map((a) => a.verdict), ['transport']);
      t.is(server.requests[0].headers.authorization, `Bearer ${KEY}`);
      t.is(elsewhere.requests.length, 0, 'the redirect was not followed');
    });
  });
});

test('duplicates, inapplicable operators and proposals past the population size are dropped; none left asks for a repair', async (t) => {
  const reply = planReply([
    { parent: RTN.id, step: 0, ops: ['gptq'] },
    { parent: RTN.id, step: 0, ops: ['gptq'] },
    // Outliers have no format on vLLM: the operator does not apply there.
    { parent: RTN.id, step: null, ops: ['outlier-retention'] },
    { parent: RTN.id, step: null, ops: ['kv-cache-8bit'] },
    { parent: SENSITIVE.id, step: null, ops: ['kv-cache-8bit'] },
  ]);
  await withServer([completion(reply)], async (server) => {
    const outcome = await llmArchitect({ env: {} }, input(server, { populationSize: 2 }));
    t.is(proposalsOf(t, outcome).length, 2);
    if (outcome.kind !== 'proposals') return;
    t.deepEqual(outcome.dropped, [
      'proposals[1]: the same policy as an earlier proposal',
      'proposals[2]: operator outlier-retention does not apply to w4a16-g128-rtn on this stack',
      'proposals[4]: over the population size 2',
    ]);
  });
  // Every proposal repeats the archive: nothing new, so the one repair is asked for, then a discard.
  const gptqChild = planReply([{ parent: RTN.id, step: 0, ops: ['gptq'] }]);
  let childId = '';
  await withServer([completion(gptqChild)], async (server) => {
    childId = proposalsOf(t, await llmArchitect({ env: {} }, input(server)))[0].id;
  });
  await withServer([completion(gptqChild), completion(gptqChild)], async (server) => {
    const outcome = await llmArchitect({ env: {} }, input(server, { archiveIds: new Set([...PARENTS.map((p) => p.id), childId]) }));
    t.is(outcome.kind, 'discarded');
    t.is(server.requests.length, 2);
    t.regex(messagesOf(server.requests[1])[3].content, /- no proposal gave a new child\n- proposals\[0\]: the same policy as a candidate already in the archive/);
  });
});

test('the prompt stays bounded: at most 8 parents, long recipes left out, and the reply may name only the parents shown', (t) => {
  // 20 parents whose recipes carry 256 depth bands each (the most a recipe may hold).
  const bands = Array.from({ length: 256 }, (_, i) => ({ from: i / 256, to: (i + 1) / 256, override: { bits: 8 as const } }));
  const many: ArchitectParent[] = Array.from({ length: 20 }, (_, i) => {
    const recipe: Recipe = { ...RTN.recipe, name: `banded-${i}`, depth: i % 2 === 0 ? bands : [] };
    return { id: `cand_banded_${i}`, recipe, gbPerGpu: 50 + i, kl: 0.01 * i, fits: true };
  });
  const prompt = buildPrompt({ target: TARGET, chain: CHAIN, parents: many, operators: [...TECHNIQUE_IDS], populationSize: 6 });
  const user = prompt.messages[1].content;
  t.true(user.length <= MAX_USER_CHARS, `${user.length}`);
  t.true(prompt.messages[0].content.length < 16 * 1024, `system ${prompt.messages[0].content.length}`);
  t.deepEqual(prompt.reply.parents, many.slice(0, MAX_PROMPT_PARENTS).map((p) => p.id));
  const data = JSON.parse(user.slice(user.indexOf('\n') + 1)) as { parents: Array<{ recipe: unknown; note?: string }>; parentsNotShown: number };
  t.is(data.parentsNotShown, 12);
  t.is(data.parents[0].recipe, null);
  t.regex(data.parents[0].note ?? '', /left out: propose a plan/);
  t.truthy(data.parents[1].recipe);
  t.false(replySchema(prompt.reply).safeParse(JSON.parse(planReply([{ parent: many[10].id, step: 0, ops: ['gptq'] }]))).success, 'a parent not shown is refused');
});

test('the architect\'s code has no way to run a reply: no eval, no Function, no dynamic import, no child processes', (t) => {
  const dir = path.join(import.meta.dirname, '..', 'evolution', 'agents', 'llm-architect');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  t.true(files.length >= 6);
  for (const f of files) {
    const code = readFileSync(path.join(dir, f), 'utf8');
    for (const banned of [/\beval\s*\(/, /\bFunction\s*\(/, /\bimport\s*\(/, /child_process/, /node:vm/, /\brequire\s*\(/]) t.notRegex(code, banned, `${f} uses ${banned}`);
  }
});
