// The optional LLM architect: one request built from the chain of thought, its reply validated
// (repaired once, or discarded), and the valid proposals turned into servable children. Whatever
// the endpoint does, the outcome is a value: proposals, or a discard the caller answers with the
// default architect. The reply is data from end to end: parsed as JSON, checked by zod, applied
// through the known operators — never executed. The API key is read from the named variable, sent
// only as a bearer header, and redacted from every message the outcome carries.
import { LlmArchitectConfig, type ChainOfThought } from '../../../schema/agents.js';
import { describeIssue } from '../../../schema/issues.js';
import { TECHNIQUE_IDS, type ServingContext } from '../../proposer/techniques.js';
import { chatCompletion, type ChatMessage, type ChatResult } from './client.js';
import { LlmArchitectOutcome, type LlmAttempt } from './outcome.js';
import { buildPrompt, repairMessages, type ArchitectParent, type ArchitectTarget, type Prompt } from './prompt.js';
import { materialize, type Materialized } from './proposals.js';
import { replyJson } from './reply-text.js';
import { replySchema } from './reply-schema.js';

export { LlmArchitectOutcome, LlmAttempt, LlmVerdict } from './outcome.js';
export { buildPrompt, type ArchitectParent, type ArchitectTarget } from './prompt.js';
export { replySchema, replyJsonSchema } from './reply-schema.js';
export { replyJson, MAX_REPLY_BYTES } from './reply-text.js';

export interface LlmArchitectDeps {
  /** The HTTP client (default: Node's global fetch). */
  fetch?: typeof fetch;
  /** Where the API key variable is read (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface LlmArchitectInput {
  config: LlmArchitectConfig;
  chain: ChainOfThought;
  /** Frontier candidates, best first. */
  parents: readonly ArchitectParent[];
  target: ArchitectTarget;
  evolutionId: string;
  generation: number;
  populationSize: number;
  /** Every candidate id of the evolution so far: children that repeat one are dropped. */
  archiveIds: ReadonlySet<string>;
  serving: ServingContext;
  seed: number;
  /** Operator ids the LLM may plan with (default: every technique). */
  operators?: readonly string[];
}

/** Zod issues the repair request quotes, one line each. */
const MAX_REPAIR_ERRORS = 5;

type Judged = { ok: true; result: Materialized } | { ok: false; verdict: 'invalid' | 'truncated'; errors: string[] };

function judge(reply: Extract<ChatResult, { kind: 'reply' }>, prompt: Prompt, input: LlmArchitectInput): Judged {
  if (reply.finishReason === 'length') {
    return { ok: false, verdict: 'truncated', errors: ['the reply was cut at the token limit (finish_reason "length"): send fewer proposals with shorter rationales'] };
  }
  const json = replyJson(reply.content);
  if (!json.ok) return { ok: false, verdict: 'invalid', errors: [json.error] };
  const parsed = replySchema(prompt.reply).safeParse(json.value);
  if (!parsed.success) {
    return { ok: false, verdict: 'invalid', errors: parsed.error.issues.slice(0, MAX_REPAIR_ERRORS).map((i) => describeIssue(i, { root: 'reply' })) };
  }
  const result = materialize({ ...input, reply: parsed.data });
  if (result.proposals.length === 0) return { ok: false, verdict: 'invalid', errors: ['no proposal gave a new child', ...result.dropped.slice(0, MAX_REPAIR_ERRORS - 1)] };
  return { ok: true, result };
}

export async function llmArchitect(deps: LlmArchitectDeps, input: LlmArchitectInput): Promise<LlmArchitectOutcome> {
  const config = LlmArchitectConfig.parse(input.config);
  if (!Number.isInteger(input.populationSize) || input.populationSize < 1) throw new Error(`llmArchitect: populationSize ${input.populationSize} is not a positive integer`);
  if (new Set(input.parents.map((p) => p.id)).size !== input.parents.length) throw new Error('llmArchitect: parent ids repeat');
  const operators = input.operators ?? [...TECHNIQUE_IDS];
  for (const op of operators) if (!TECHNIQUE_IDS.has(op)) throw new Error(`llmArchitect: unknown operator ${op}`);
  const fetchImpl = deps.fetch ?? globalThis.fetch;
  const env = deps.env ?? process.env;
  const apiKey = config.apiKeyEnv ? env[config.apiKeyEnv] || undefined : undefined;
  const redact = (text: string): string => (apiKey ? text.split(apiKey).join('***') : text);

  if (input.parents.length === 0) return { kind: 'discarded', reason: 'no frontier parent to propose from', attempts: [] };
  const prompt = buildPrompt({ target: input.target, chain: input.chain, parents: input.parents, operators, populationSize: input.populationSize });
  const attempts: LlmAttempt[] = [];
  let messages: ChatMessage[] = prompt.messages;
  for (const request of [1, 2] as const) {
    const started = performance.now();
    const reply = await chatCompletion(fetchImpl, config, messages, apiKey);
    const ms = Math.round(performance.now() - started);
    if (reply.kind === 'failed') {
      attempts.push({ request, verdict: reply.verdict, detail: redact(reply.detail), ms });
      return LlmArchitectOutcome.parse({ kind: 'discarded', reason: redact(reply.detail), attempts });
    }
    const judged = judge(reply, prompt, input);
    if (judged.ok) {
      attempts.push({ request, verdict: 'valid', detail: '', ms });
      return LlmArchitectOutcome.parse({ kind: 'proposals', proposals: judged.result.proposals, dropped: judged.result.dropped.map(redact), attempts });
    }
    const errors = judged.errors.map(redact);
    attempts.push({ request, verdict: judged.verdict, detail: errors.join('; ').slice(0, 2000), ms });
    if (request === 2) {
      return LlmArchitectOutcome.parse({ kind: 'discarded', reason: `the reply and its repair were both rejected: ${errors.join('; ')}`.slice(0, 2000), attempts });
    }
    messages = repairMessages(prompt, reply.content, errors);
  }
  throw new Error('llmArchitect: unreachable');
}
