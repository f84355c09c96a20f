// The ids a person types: evolution ids (the Temporal workflow id and the key of the evolution's rows),
// candidate ids and knowledge-graph node ids. Capped and limited to a safe charset, so a 100 KB or
// escape-laden argument is refused before anything connects.
import { z } from 'zod';

export const ID_MAX_LENGTH = 200;

const bounded = (what: string) => z.string().min(1, `${what} is empty`).max(ID_MAX_LENGTH, `${what} is longer than ${ID_MAX_LENGTH} characters`);

/** `<config name>-<6 chars>` by default; `start --id` may choose any id of this shape. */
export const EvolutionId = bounded('evolution id').regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'evolution id may hold letters, digits, ".", "_" and "-", and starts with a letter or digit');
export type EvolutionId = z.infer<typeof EvolutionId>;

/** `cand_<hash>` as the proposer writes them. */
export const CandidateId = bounded('candidate id').regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'candidate id may hold letters, digits, ".", "_" and "-"');

/** `candidate:cand_…`, `technique:gptq`, `discovery:…`, or a bare candidate id. */
export const EkgNodeId = bounded('node id').regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, 'node id may hold letters, digits, ".", "_", "-", ":" and "/"');
