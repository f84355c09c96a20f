// The architect's prompt: the target, the chain of thought, the frontier parents and the operators,
// handed to the model as JSON data, with the reply's JSON Schema. Bounded in size: at most
// MAX_PROMPT_PARENTS parents, and a recipe too long to quote is left out (the parent can still take a plan).
import type { ChainOfThought } from '../../../schema/agents.js';
import type { Recipe } from '../../../schema/recipe.js';
import { TECHNIQUES } from '../../proposer/techniques.js';
import type { ChatMessage } from './client.js';
import { MAX_PLAN_OPERATORS, MAX_RATIONALE, replyJsonSchema, type ReplyContext } from './reply-schema.js';

export const MAX_PROMPT_PARENTS = 8;
/** A recipe whose JSON is longer is not quoted (deep band lists): its parent takes plans only. */
export const MAX_RECIPE_CHARS = 6000;
/** The user message's bound; parents are left out from the end until it fits. */
export const MAX_USER_CHARS = 48 * 1024;
/** The part of a rejected reply quoted back in the repair request. */
export const MAX_QUOTED_REPLY_CHARS = 8 * 1024;

export interface ArchitectParent {
  id: string;
  recipe: Recipe;
  gbPerGpu: number | null;
  kl: number | null;
  fits: boolean | null;
}

export interface ArchitectTarget {
  model: string;
  hardware: string;
  gpus: number;
  stack: string;
  context?: number;
}

export interface PromptInput {
  target: ArchitectTarget;
  chain: ChainOfThought;
  /** Frontier candidates, best first: the first MAX_PROMPT_PARENTS that fit are offered. */
  parents: readonly ArchitectParent[];
  /** Operator ids the reply may use (TECHNIQUES ids). */
  operators: readonly string[];
  populationSize: number;
}

export interface Prompt {
  messages: ChatMessage[];
  /** What the reply may refer to: exactly the parents, operators and steps the prompt showed. */
  reply: ReplyContext;
}

function parentData(p: ArchitectParent): Record<string, unknown> {
  const recipe = JSON.stringify(p.recipe);
  const base = { id: p.id, gbPerGpu: p.gbPerGpu, kl: p.kl, fits: p.fits };
  return recipe.length <= MAX_RECIPE_CHARS
    ? { ...base, recipe: p.recipe }
    : { ...base, recipe: null, note: `recipe of ${recipe.length} characters left out: propose a plan for this parent` };
}

function userMessage(input: PromptInput, parents: readonly ArchitectParent[]): string {
  const operators = input.operators.map((id) => {
    const t = TECHNIQUES.find((x) => x.id === id);
    return t ? { id, name: t.name, description: t.description } : { id };
  });
  const data = {
    target: input.target,
    populationSize: input.populationSize,
    chainOfThought: {
      family: input.chain.family,
      guidance: input.chain.guidance,
      appliedPatterns: input.chain.applied,
      steps: input.chain.steps.map((s, index) => ({
        index,
        pattern: s.pattern,
        innovation: s.innovation,
        operator: s.operator,
        from: s.from,
        why: s.why,
        expectedMemory: s.memory,
        expectedLoss: s.loss,
        score: s.score,
        evidence: s.evidence,
      })),
    },
    operators,
    parents: parents.map(parentData),
    parentsNotShown: input.parents.length - parents.length,
  };
  return `The evolution's state, as JSON data:\n${JSON.stringify(data, null, 1)}`;
}

function systemMessage(input: PromptInput, reply: ReplyContext): string {
  return [
    'You are the architect of evoquant, an engine that evolves compression recipes (quantization policies over module roles, layer depth and expert rank) for large language models, so that a model fits its hardware target and its serving stack with as little accuracy lost as possible.',
    'Propose children of the frontier candidates. Follow the chain of thought extracted from the knowledge graph of compression innovations: each step names an evolution pattern, the innovation that applied it, the operator that executes it, why, and its expected effect on memory and on loss. Lower gbPerGpu and lower kl (KL divergence per byte against bf16 on held-out text) are better; fits says whether the parent fits the target.',
    'Reply with ONE JSON object and nothing else: no prose, no code. It is read as data and validated; it is never executed. It may be bare or in one ```json fence, and must match this JSON Schema:',
    JSON.stringify(replyJsonSchema(reply)),
    'Rules:',
    `- At most ${input.populationSize} proposals; "parent" is a frontier candidate id from the data.`,
    `- Each proposal has exactly one of "plan" (1 to ${MAX_PLAN_OPERATORS} operator ids, applied in order to the parent's recipe) or "recipe" (a complete recipe).`,
    '- "step" is the index of the chain-of-thought step the proposal follows, or null.',
    `- "rationale" is one line of at most ${MAX_RATIONALE} characters.`,
    '- In a recipe, bits are 2, 3, 4, 8 or 16 and groupSize is 32, 64, 128, 256 or "channel".',
    '- Every child is moved onto what the serving stack can serve; children that repeat a parent, an earlier candidate or each other are dropped.',
  ].join('\n');
}

export function buildPrompt(input: PromptInput): Prompt {
  let parents = input.parents.slice(0, MAX_PROMPT_PARENTS);
  let user = userMessage(input, parents);
  while (user.length > MAX_USER_CHARS && parents.length > 1) {
    parents = parents.slice(0, -1);
    user = userMessage(input, parents);
  }
  const reply: ReplyContext = { parents: parents.map((p) => p.id), operators: input.operators, steps: input.chain.steps.length };
  return {
    messages: [
      { role: 'system', content: systemMessage(input, reply) },
      { role: 'user', content: user },
    ],
    reply,
  };
}

/** The one repair request: the conversation so far, the rejected reply, and what was wrong with it. */
export function repairMessages(prompt: Prompt, rejected: string, errors: readonly string[]): ChatMessage[] {
  const quoted = rejected.length > MAX_QUOTED_REPLY_CHARS ? `${rejected.slice(0, MAX_QUOTED_REPLY_CHARS)}\n[… cut]` : rejected;
  return [
    ...prompt.messages,
    { role: 'assistant', content: quoted },
    {
      role: 'user',
      content: [
        'Your reply was not accepted:',
        ...errors.map((e) => `- ${e}`),
        'Reply again with the corrected JSON object only, matching the JSON Schema given before.',
      ].join('\n'),
    },
  ];
}
