// The document the LLM must reply with: proposals, each from a frontier parent by an operator plan
// or as a whole recipe. Built per request, so parent ids, operator ids and chain-step indices are
// closed sets: anything the prompt did not offer is invalid, never guessed at.
import { z } from 'zod';
import { Recipe } from '../../../schema/recipe.js';

/** Most proposals one reply may hold (the population size caps what is kept). */
export const MAX_REPLY_PROPOSALS = 32;
/** Most operators one plan may chain. */
export const MAX_PLAN_OPERATORS = 6;
export const MAX_RATIONALE = 400;

/** One line of plain text: no control characters (no ANSI escapes, newlines or bidi overrides). */
const Rationale = z
  .string()
  .min(1)
  .max(MAX_RATIONALE)
  .regex(/^[^\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]*$/u, { message: 'rationale must be one line of plain text' });

export interface ReplyContext {
  /** Frontier candidate ids the prompt offered as parents. */
  parents: readonly string[];
  /** Operator (technique) ids the prompt allowed. */
  operators: readonly string[];
  /** Number of chain-of-thought steps (a proposal's step indexes them). */
  steps: number;
}

function closedSet(values: readonly string[], what: string): z.ZodType<string> {
  if (values.length === 0) return z.never({ error: `no ${what} is allowed` });
  return z.enum(values as [string, ...string[]], { error: `unknown ${what}` });
}

/** The reply schema for one request. */
export function replySchema(ctx: ReplyContext) {
  const parent = closedSet(ctx.parents, 'parent (use a frontier candidate id)');
  const step = ctx.steps > 0 ? z.number().int().min(0).max(ctx.steps - 1).nullable() : z.null();
  const operator = closedSet(ctx.operators, 'operator (use an allowed operator id)');
  const plan = z.array(z.object({ operator }).strict()).min(1).max(MAX_PLAN_OPERATORS);
  // Strict objects: one of plan or recipe, never both, and no key outside the schema (__proto__ included).
  const PlanProposal = z.object({ parent, step, plan, rationale: Rationale }).strict();
  const RecipeProposal = z.object({ parent, step, recipe: Recipe, rationale: Rationale }).strict();
  return z
    .object({ proposals: z.array(z.union([PlanProposal, RecipeProposal])).min(1).max(MAX_REPLY_PROPOSALS) })
    .strict();
}
export type LlmReply = z.infer<ReturnType<typeof replySchema>>;
export type LlmReplyProposal = LlmReply['proposals'][number];

/** The reply schema as JSON Schema, for the prompt: repeated parts as $defs, refinements told in words. */
export function replyJsonSchema(ctx: ReplyContext): unknown {
  return z.toJSONSchema(replySchema(ctx), { io: 'input', unrepresentable: 'any', reused: 'ref' });
}
