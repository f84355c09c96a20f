// The database contract in one place: kysely table types for every table, the enumerations their
// CHECK constraints enforce, and zod schemas for the JSON payloads that enter from outside.
// Migrations repeat the enumerations on purpose (they never import app code); test/db-schema.test.ts
// checks that both agree.
import type { ColumnType, Generated, Selectable } from 'kysely';
import { z } from 'zod';
import { LongContextSummary } from './long-context.js';

// ---------------------------------------------------------------- JSON

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Any JSON value: rejects NaN, Infinity, undefined, Dates, functions (they do not survive jsonb). */
export const JsonValue: z.ZodType<JsonValue> = z.json();
export const JsonObject: z.ZodType<JsonObject> = z.record(z.string(), z.json());

/** jsonb column: read back parsed, written as JSON text (node-pg would turn a JS array into a SQL array). */
export type Jsonb<T> = ColumnType<T, string, string>;
/** jsonb column with a database default. */
export type JsonbWithDefault<T> = ColumnType<T, string | undefined, string>;
export type NullableJsonb<T> = ColumnType<T | null, string | null | undefined, string | null>;
/** timestamptz that may be unset. */
export type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** text[] with a database default of '{}'. */
export type TextArray = ColumnType<string[], string[] | undefined, string[]>;

// ---------------------------------------------------------------- enumerations

export const EVOLUTION_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export const EvolutionStatus = z.enum(EVOLUTION_STATUSES);
export type EvolutionStatus = z.infer<typeof EvolutionStatus>;

export const GENERATION_STATUSES = ['running', 'completed', 'failed', 'cancelled'] as const;
export const GenerationStatus = z.enum(GENERATION_STATUSES);
export type GenerationStatus = z.infer<typeof GenerationStatus>;

export const CANDIDATE_STATUSES = ['proposed', 'rejected', 'evaluated', 'failed', 'infeasible'] as const;
export const CandidateStatus = z.enum(CANDIDATE_STATUSES);
export type CandidateStatus = z.infer<typeof CandidateStatus>;

export const ATTEMPT_OUTCOMES = ['ok', 'failed', 'oom', 'cancelled'] as const;
export const AttemptOutcome = z.enum(ATTEMPT_OUTCOMES);
export type AttemptOutcome = z.infer<typeof AttemptOutcome>;

/**
 * technique: a mutation operator; innovation: a published idea of the seed graph; hardware, kernel,
 * serving-stack: what an innovation requires to run; chain-of-thought: the scout's reasoning for a
 * generation; discovery: a candidate that beat every manual recipe on its target; failure: a class
 * of failure (a compile rule, an evaluation error) candidates fail because of.
 */
export const EKG_NODE_KINDS = ['technique', 'candidate', 'discovery', 'pattern', 'innovation', 'hardware', 'kernel', 'serving-stack', 'chain-of-thought', 'failure'] as const;
export const EkgNodeKind = z.enum(EKG_NODE_KINDS);
export type EkgNodeKind = z.infer<typeof EkgNodeKind>;

/**
 * Edges point from the newer/dependent node (src) to what it builds on or blames (dst);
 * implemented-by: an innovation to the mutation operator (technique) that applies its genes;
 * reasoned-by: a candidate to the chain of thought it was proposed from; cites: a chain of thought
 * to the innovations its steps follow.
 */
export const EKG_EDGE_KINDS = ['derived-from', 'improved-over', 'failed-because', 'requires', 'applies-pattern', 'implemented-by', 'reasoned-by', 'cites'] as const;
export const EkgEdgeKind = z.enum(EKG_EDGE_KINDS);
export type EkgEdgeKind = z.infer<typeof EkgEdgeKind>;

// ---------------------------------------------------------------- payloads

/** What one evaluation measured. Extra keys are kept; NaN/Infinity are rejected (silent collapse). */
export const ResultMetrics = z.looseObject({
  /** Proxy-model cross-entropy in bits per byte of text. */
  bits_per_byte: z.number().nonnegative(),
  /** Top-1 next-token agreement with the unquantized model, in [0, 1]. */
  top1: z.number().min(0).max(1),
  /** Mean KL divergence to the unquantized model's next-token distribution. */
  kl: z.number().nonnegative(),
  /** Bytes of the quantized proxy weights. */
  proxy_bytes: z.number().int().nonnegative(),
  /** Target memory per GPU from compile, in GB. */
  gb_per_gpu: z.number().nonnegative(),
  /** Whether the target deployment fits its hardware. */
  fits: z.boolean(),
  /** Torch executor on a real checkpoint: peak device memory of the evaluation (max_memory_allocated). */
  measured_peak_bytes: z.number().int().nonnegative().optional(),
  /** The device's total memory; null on CPU. */
  device_total_bytes: z.number().int().nonnegative().nullable().optional(),
  /** Bytes of the evaluated model's weights as stored. */
  weight_bytes: z.number().int().nonnegative().optional(),
  /** Peak device memory of the quantization. */
  quantize_peak_bytes: z.number().int().nonnegative().optional(),
  /** Dense long-context proxy: bits/byte and KL per position bucket and retrieval by distance, with the original's. */
  long_context: LongContextSummary.optional(),
});
export type ResultMetrics = z.infer<typeof ResultMetrics>;

// ---------------------------------------------------------------- tables

export interface EvolutionTable {
  /** The Temporal workflow id. */
  id: string;
  config: Jsonb<JsonObject>;
  status: ColumnType<EvolutionStatus, EvolutionStatus | undefined, EvolutionStatus>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface GenerationTable {
  evolution_id: string;
  number: number;
  status: ColumnType<GenerationStatus, GenerationStatus | undefined, GenerationStatus>;
  started_at: Generated<Date>;
  finished_at: NullableTimestamp;
  /** The curator's survivors, best first: the parents the next generation's architect draws from. */
  survivors: TextArray;
}

export interface CandidateTable {
  /** Content hash of (evolution id, recipe hash): proposing the same recipe twice is one row. */
  id: string;
  evolution_id: string;
  generation: number;
  recipe: Jsonb<JsonObject>;
  /** Content hash of the recipe alone: finds the same recipe across evolutions. */
  recipe_hash: string;
  parent_ids: TextArray;
  status: ColumnType<CandidateStatus, CandidateStatus | undefined, CandidateStatus>;
  violation_codes: TextArray;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface EvaluationAttemptTable {
  candidate_id: string;
  /** Temporal's activity attempt number, from 1. */
  attempt: number;
  worker_identity: string;
  /** null while the attempt runs. */
  outcome: ColumnType<AttemptOutcome | null, AttemptOutcome | null | undefined, AttemptOutcome | null>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  started_at: Generated<Date>;
  finished_at: NullableTimestamp;
  metrics: NullableJsonb<JsonObject>;
}

export interface ResultTable {
  candidate_id: string;
  metrics: Jsonb<ResultMetrics>;
  recorded_at: Generated<Date>;
}

export const REFERENCE_SOURCES = ['builtin', 'innovation', 'seed'] as const;
export const ReferenceSource = z.enum(REFERENCE_SOURCES);
export type ReferenceSource = z.infer<typeof ReferenceSource>;

/** A manual recipe (builtin, seed innovation) measured on an evolution's target: what discoveries must beat. */
export interface ReferenceResultTable {
  evolution_id: string;
  recipe_hash: string;
  name: string;
  source: ReferenceSource;
  recipe: Jsonb<JsonObject>;
  metrics: Jsonb<ResultMetrics>;
  recorded_at: Generated<Date>;
}

export interface EkgNodeTable {
  id: string;
  kind: EkgNodeKind;
  name: string;
  payload: JsonbWithDefault<JsonObject>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface EkgEdgeTable {
  src: string;
  dst: string;
  kind: EkgEdgeKind;
  payload: JsonbWithDefault<JsonObject>;
  created_at: Generated<Date>;
}

export interface Database {
  evolution: EvolutionTable;
  generation: GenerationTable;
  candidate: CandidateTable;
  evaluation_attempt: EvaluationAttemptTable;
  result: ResultTable;
  reference_result: ReferenceResultTable;
  ekg_node: EkgNodeTable;
  ekg_edge: EkgEdgeTable;
}

export type EvolutionRow = Selectable<EvolutionTable>;
export type GenerationRow = Selectable<GenerationTable>;
export type CandidateRow = Selectable<CandidateTable>;
export type EvaluationAttemptRow = Selectable<EvaluationAttemptTable>;
export type ResultRow = Selectable<ResultTable>;
export type ReferenceResultRow = Selectable<ReferenceResultTable>;
export type EkgNodeRow = Selectable<EkgNodeTable>;
export type EkgEdgeRow = Selectable<EkgEdgeTable>;
