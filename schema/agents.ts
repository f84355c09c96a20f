// Contracts of the agents that run a generation (scout → architect → physicist → compile → quantize →
// evaluate → critic → curator): what each one hands the next, validated by zod where it crosses an
// activity boundary, and the optional LLM architect's endpoint.
import { z } from 'zod';
import { EvolutionPattern } from './innovation.js';
import { Recipe } from './recipe.js';

/** One line for people, short enough for a table cell and a prompt. */
const oneLine = z.string().min(1).max(400).regex(/^[^\n\r]*$/, { message: 'must be one line' });

/**
 * graph: the scout extracts a chain of thought from the knowledge graph and the architect follows it,
 * operators chosen by a bandit over the patterns' measured success. ablated: the same engine with the
 * graph taken away (no chain of thought, operators drawn uniformly) — the search benchmark's control.
 */
export const AgentGuidance = z.enum(['graph', 'ablated']);
export type AgentGuidance = z.infer<typeof AgentGuidance>;

/** An OpenAI-compatible chat-completions endpoint for the optional LLM architect. */
export const LlmArchitectConfig = z
  .object({
    /** Base URL up to and including /v1, e.g. http://127.0.0.1:8000/v1. */
    baseUrl: z.url({ protocol: /^https?$/ }).max(2048),
    model: z.string().min(1).max(200),
    /** The environment variable holding the API key (never the key itself in a config file). */
    apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'apiKeyEnv names an environment variable').max(100).optional(),
    timeoutSeconds: z.number().int().min(1).max(600).default(60),
    maxTokens: z.number().int().min(64).max(32_768).default(2048),
    temperature: z.number().min(0).max(2).default(0.2),
  })
  .strict();
export type LlmArchitectConfig = z.infer<typeof LlmArchitectConfig>;

export const AgentsConfig = z
  .object({
    guidance: AgentGuidance.default('graph'),
    /** Steps the scout's chain of thought holds at most. */
    chainLength: z.number().int().min(1).max(16).default(6),
    /**
     * After the last generation, measure the manual recipes (builtins, seed innovations) that fit the
     * target and record the candidates that beat them all as discoveries.
     */
    discoveries: z.boolean().default(true),
    llm: LlmArchitectConfig.optional(),
  })
  .strict();
export type AgentsConfig = z.infer<typeof AgentsConfig>;
export const DEFAULT_AGENTS: AgentsConfig = { guidance: 'graph', chainLength: 6, discoveries: true };

/** The direction a step is expected to move a figure, with the measured mean where there is one. */
export const ExpectedEffect = z
  .object({
    direction: z.enum(['less', 'same', 'more']),
    /** Mean change measured on similar targets (GB per GPU, or KL bits per byte); null with no data. */
    measuredMean: z.number().finite().nullable(),
  })
  .strict();
export type ExpectedEffect = z.infer<typeof ExpectedEffect>;

/** A step of the algorithmic chain of thought: apply this pattern, as this innovation did, by this operator. */
export const ChainStep = z
  .object({
    pattern: EvolutionPattern,
    /** The seed-graph innovation whose genes the step applies (innovations.yaml id). */
    innovation: z.string().min(1).max(60),
    /** The mutation operator (evolution/proposer/techniques.ts id) that executes it. */
    operator: z.string().min(1).max(60),
    /** Innovations the frontier already applies that this one derives from (the path taken in the graph). */
    from: z.array(z.string().min(1).max(60)).max(8),
    why: oneLine,
    memory: ExpectedEffect,
    loss: ExpectedEffect,
    /** The bandit's score of the pattern on this target family when the chain was made; null while untried (explored first). */
    score: z.number().finite().nullable(),
    /** Where the pattern's evidence comes from: this evolution, other evolutions, or none yet. */
    evidence: z.enum(['this-evolution', 'other-evolutions', 'none']),
  })
  .strict();
export type ChainStep = z.infer<typeof ChainStep>;

export const ChainOfThought = z
  .object({
    /** `chain:<evolution>/gen-<n>`, also its knowledge-graph node id. */
    id: z.string().min(1).max(200),
    evolutionId: z.string().min(1).max(200),
    generation: z.number().int().min(0),
    /** The target family the statistics were read for (e.g. moe/vllm/tight). */
    family: z.string().min(1).max(100),
    guidance: AgentGuidance,
    /** Candidate ids on the frontier the chain starts from. */
    frontier: z.array(z.string()).max(256),
    /** Patterns the frontier already applies. */
    applied: z.array(EvolutionPattern),
    steps: z.array(ChainStep).max(16),
  })
  .strict();
export type ChainOfThought = z.infer<typeof ChainOfThought>;

/** How the architect made a child. */
export const ArchitectOperation = z.enum(['seed', 'mutate', 'crossover', 'transfer', 'llm', 'uniform']);
export type ArchitectOperation = z.infer<typeof ArchitectOperation>;

/** A child the architect proposes (before the physicist): its recipe, parents and reasoning. */
export const ArchitectProposal = z
  .object({
    id: z.string().min(1),
    generation: z.number().int().min(0),
    recipe: Recipe,
    parents: z.array(z.string()).max(2),
    /** The operator (technique id) it applied, null for a seed or a crossover. */
    technique: z.string().nullable(),
    operation: ArchitectOperation,
    /** Index of the chain step it follows, null when it follows none (seed, ablated, uniform). */
    step: z.number().int().min(0).nullable(),
  })
  .strict();
export type ArchitectProposal = z.infer<typeof ArchitectProposal>;
