// The seed graph of compression innovations: published ideas with their source, the evolution
// patterns they applied, how they derive from one another, the recipe genes that execute them
// (where evoquant has genes for them) and the kernels, GPUs and serving stacks they need.
import { z } from 'zod';
import { KvPolicy } from './kv-policy.js';
import { DepthBand, ExpertLayerPolicy, ExpertPolicy, ExpertReduction, QuantOverride, RecipeFields, RoleOverrides } from './recipe.js';

/** The moves by which one idea derives from another (the issue's eight patterns). */
export const EVOLUTION_PATTERNS = [
  'error-compensation',
  'activation-awareness',
  'outlier-isolation',
  'rotation-incoherence',
  'mixed-precision-sensitivity-routing',
  'learned-rounding',
  'balanced-calibration',
  'pruning-merging',
] as const;
export const EvolutionPattern = z.enum(EVOLUTION_PATTERNS);
export type EvolutionPattern = z.infer<typeof EvolutionPattern>;

const slug = z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, { message: 'ids are lowercase words joined by dashes (dots allowed in versions)' }).max(60);
/** One line for people: no line breaks, short enough for a table cell. */
const oneLine = z.string().min(1).max(240).regex(/^[^\n\r]*$/, { message: 'must be one line' });

export const InnovationSource = z
  .object({
    /** The paper's title, always: a reader can find the paper from it when there is no arXiv id. */
    title: oneLine,
    /** New-style arXiv identifier (YYMM.NNNNN), or null when the idea has none (or it is not certain). */
    arxiv: z.string().regex(/^\d{4}\.\d{4,5}$/, { message: 'arxiv must look like 2210.17323' }).nullable(),
    /** Where the idea lives when it is not on arXiv (a repository, a pull request, a blog post). */
    url: z.url({ protocol: /^https$/ }).optional(),
  })
  .strict();
export type InnovationSource = z.infer<typeof InnovationSource>;

/**
 * The genes of an executable innovation: a recipe fragment laid over the seed base (weight-only
 * 4-bit g128 RTN with routers, embeddings and lm_head in bf16). `default` and `roles` merge field by
 * field into the base's; the other fields replace it.
 */
export const InnovationGenes = z
  .object({
    activations: RecipeFields.shape.activations.unwrap().optional(),
    /** A KV policy (schema/kv-policy.ts), or the legacy kvCacheBits mapped onto one by Recipe. */
    kvCache: KvPolicy.optional(),
    kvCacheBits: RecipeFields.shape.kvCacheBits,
    default: QuantOverride.optional(),
    roles: RoleOverrides.optional(),
    depth: z.array(DepthBand).max(16).optional(),
    experts: ExpertPolicy.optional(),
    expertLayers: ExpertLayerPolicy.optional(),
    expertReduction: ExpertReduction.optional(),
  })
  .strict();
export type InnovationGenes = z.infer<typeof InnovationGenes>;
export type InnovationGenesInput = z.input<typeof InnovationGenes>;

export const Derivation = z
  .object({
    /** The innovation this one builds on. */
    from: slug,
    /** The pattern the step applied. */
    pattern: EvolutionPattern,
  })
  .strict();
export type Derivation = z.infer<typeof Derivation>;

export const Innovation = z
  .object({
    id: slug,
    name: z.string().min(1).max(80),
    year: z.number().int().min(1985).max(2026),
    source: InnovationSource,
    keyIdea: oneLine,
    /** Patterns the innovation applies (empty only for a root that applies none of them). */
    patterns: z.array(EvolutionPattern).max(EVOLUTION_PATTERNS.length),
    derivedFrom: z.array(Derivation).default([]),
    /** Recipe genes that execute it, or null where evoquant has no gene for its key idea yet. */
    genes: InnovationGenes.nullable(),
    /**
     * exact: the genes are the method; approximate: they execute its key idea and `note` says
     * what they leave out. Null exactly when genes are.
     */
    fidelity: z.enum(['exact', 'approximate']).nullable(),
    /** What the genes leave out, or why there are none. */
    note: oneLine.optional(),
    /** Platform nodes (kernels, GPU generations, serving stacks) it needs to run as published. */
    requires: z.array(slug).default([]),
    /** evoquant's mutation operators (evolution/proposer/techniques.ts ids) that apply its genes. */
    operators: z.array(slug).default([]),
  })
  .strict()
  .superRefine((n, ctx) => {
    if ((n.genes === null) !== (n.fidelity === null)) {
      ctx.addIssue({ code: 'custom', path: ['fidelity'], message: 'fidelity is null exactly when genes are' });
    }
    if (n.fidelity !== 'exact' && n.note === undefined) {
      ctx.addIssue({ code: 'custom', path: ['note'], message: 'an approximate or non-executable innovation needs a note saying what is missing' });
    }
    for (const [i, d] of n.derivedFrom.entries()) {
      if (!n.patterns.includes(d.pattern)) ctx.addIssue({ code: 'custom', path: ['derivedFrom', i, 'pattern'], message: `pattern ${d.pattern} is not among the innovation's patterns` });
    }
    if (new Set(n.patterns).size !== n.patterns.length) ctx.addIssue({ code: 'custom', path: ['patterns'], message: 'patterns repeat' });
  });
export type Innovation = z.infer<typeof Innovation>;
export type InnovationInput = z.input<typeof Innovation>;

/** What an innovation can need: a GPU generation, a kernel, or a serving stack. */
export const PLATFORM_KINDS = ['hardware', 'kernel', 'serving-stack'] as const;
export const PlatformKind = z.enum(PLATFORM_KINDS);
export type PlatformKind = z.infer<typeof PlatformKind>;

export const Platform = z
  .object({
    id: slug,
    kind: PlatformKind,
    name: z.string().min(1).max(80),
    description: oneLine,
    /** hardware: compute capability × 10 (80 for SM 8.0). */
    sm: z.number().int().min(50).max(200).optional(),
    /** serving-stack: the evoquant stack table it stands for (science/serving-stacks). */
    stack: z.enum(['reference', 'vllm', 'llama.cpp']).optional(),
    /** Where the fact is stated (a file of the stack's source, a vendor page). */
    source: oneLine.optional(),
    /** Other platform nodes it needs (a kernel needs a stack and a GPU generation). */
    requires: z.array(slug).default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    if ((p.kind === 'hardware') !== (p.sm !== undefined)) ctx.addIssue({ code: 'custom', path: ['sm'], message: 'sm is given exactly for hardware nodes' });
    if ((p.kind === 'serving-stack') !== (p.stack !== undefined)) ctx.addIssue({ code: 'custom', path: ['stack'], message: 'stack is given exactly for serving-stack nodes' });
  });
export type Platform = z.infer<typeof Platform>;

export const PatternDescription = z.object({ id: EvolutionPattern, name: z.string().min(1).max(60), description: oneLine }).strict();
export type PatternDescription = z.infer<typeof PatternDescription>;

/** The whole seed: unique ids across innovations, platforms and patterns are checked by the loader. */
export const InnovationSeed = z
  .object({
    patterns: z.array(PatternDescription).length(EVOLUTION_PATTERNS.length),
    platforms: z.array(Platform).min(1),
    innovations: z.array(Innovation).min(1),
  })
  .strict();
export type InnovationSeed = z.infer<typeof InnovationSeed>;
