// What the LLM architect hands back: proposals (with the requests it took) or a discard the caller
// answers with the default architect. zod-validated, so it can cross an activity boundary as is.
import { z } from 'zod';
import { ArchitectProposal } from '../../../schema/agents.js';

/** How one request to the endpoint ended. */
export const LlmVerdict = z.enum([
  /** The reply parsed, validated and gave at least one new child. */
  'valid',
  /** The reply came back but was not a valid proposal document (or gave no usable child). */
  'invalid',
  /** finish_reason 'length': the reply was cut at max_tokens. */
  'truncated',
  /** The endpoint answered with a non-2xx status. */
  'http-error',
  /** No complete answer within timeoutSeconds. */
  'timeout',
  /** Connection refused or reset, a body over the cap, a body that is not a chat completion. */
  'transport',
]);
export type LlmVerdict = z.infer<typeof LlmVerdict>;

export const LlmAttempt = z
  .object({
    /** 1 for the first request, 2 for the repair. */
    request: z.number().int().min(1).max(2),
    verdict: LlmVerdict,
    /** One line saying what was wrong (empty when valid); never holds the API key. */
    detail: z.string().max(2000),
    ms: z.number().min(0),
  })
  .strict();
export type LlmAttempt = z.infer<typeof LlmAttempt>;

export const LlmArchitectOutcome = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('proposals'),
      proposals: z.array(ArchitectProposal).min(1),
      /** Proposals of the reply that gave no child (duplicate, operator not applicable, not servable, over the population). */
      dropped: z.array(z.string().max(600)).max(64),
      attempts: z.array(LlmAttempt).min(1).max(2),
    })
    .strict(),
  z
    .object({
      kind: z.literal('discarded'),
      /** One line: why nothing of the LLM is used (the caller falls back to the default architect). */
      reason: z.string().min(1).max(2000),
      attempts: z.array(LlmAttempt).max(2),
    })
    .strict(),
]);
export type LlmArchitectOutcome = z.infer<typeof LlmArchitectOutcome>;
