// Control-queue activities: compile and record, plus the evolution's bookkeeping (the agents that
// propose are activities/agents/).
// Thin adapters over the evolution, physics and knowledge libraries; every write is idempotent
// so a retried or replayed activity never duplicates a row, a node or an edge.
import type { Kysely } from 'kysely';
import { getCandidate, setCandidateStatus } from '../engine/db/candidates.js';
import { recordFailedAttempt, recordSucceededAttempt } from '../engine/db/evaluation-attempts.js';
import { createEvolution, finishGeneration, setEvolutionStatus } from '../engine/db/evolutions.js';
import { recordResult } from '../engine/db/results.js';
import { relativeAccuracyLoss } from '../science/evaluation/relative-loss.js';
import { appliedTechnique } from '../evolution/knowledge/load-archive.js';
import { recordOutcome } from '../evolution/knowledge/record-outcome.js';
import { seedKnowledgeGraph } from '../evolution/knowledge/seed-innovations.js';
import type { Database, JsonObject } from '../schema/db.js';
import { compileVerdict } from './compile-verdict.js';
import type { CandidateSummary, CompileRequest, CompileVerdict, ProposedCandidate, RecordRequest } from '../schema/workflow-contracts.js';
import type { EvolutionConfig } from '../schema/evolution-config.js';
import { Recipe } from '../schema/recipe.js';

export interface ControlDeps {
  db: Kysely<Database>;
}

function summaryOf(req: RecordRequest): CandidateSummary {
  const base = {
    id: req.candidate.id,
    generation: req.candidate.generation,
    recipeName: req.candidate.recipe.name,
    parents: req.candidate.parents,
    technique: req.candidate.technique,
    violations: req.verdict.violations,
    gbPerGpu: req.verdict.gbPerGpu,
    fits: req.verdict.fits,
  };
  switch (req.kind) {
    case 'rejected':
      return { ...base, status: 'rejected', kl: null, top1: null, relativeAccuracyLoss: null, error: req.verdict.violationMessages.join('; ') };
    case 'failed':
      return { ...base, status: req.outOfMemory ? 'infeasible' : 'failed', kl: null, top1: null, relativeAccuracyLoss: null, error: `${req.failureType}: ${req.message}` };
    case 'evaluated': {
      const m = req.measurement;
      return { ...base, status: 'evaluated', kl: m.kl, top1: m.top1, relativeAccuracyLoss: relativeAccuracyLoss(m.baselineTop1, m.top1), error: null };
    }
  }
}

export function createControlActivities({ db }: ControlDeps) {
  return {
    async registerEvolution({ evolutionId, config }: { evolutionId: string; config: EvolutionConfig }): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await createEvolution(trx, { id: evolutionId, config: JSON.parse(JSON.stringify(config)) as JsonObject, status: 'running' });
        await seedKnowledgeGraph(trx);
      });
    },

    async finishEvolution({ evolutionId, status }: { evolutionId: string; status: 'completed' | 'cancelled' }): Promise<void> {
      await setEvolutionStatus(db, evolutionId, status);
    },

    async loadCandidates({ evolutionId, ids }: { evolutionId: string; ids: string[] }): Promise<ProposedCandidate[]> {
      const out: ProposedCandidate[] = [];
      for (const id of ids) {
        const row = await getCandidate(db, id);
        if (!row || row.evolution_id !== evolutionId) throw new Error(`candidate ${id} is not part of evolution ${evolutionId}`);
        out.push({ id, generation: row.generation, recipe: Recipe.parse(row.recipe), parents: row.parent_ids, technique: await appliedTechnique(db, id) });
      }
      return out;
    },

    async compileCandidate(req: CompileRequest): Promise<CompileVerdict> {
      return compileVerdict(req);
    },

    async record(req: RecordRequest): Promise<CandidateSummary> {
      const summary = summaryOf(req);
      await db.transaction().execute(async (trx) => {
        const id = req.candidate.id;
        await setCandidateStatus(trx, id, summary.status, req.verdict.violations);
        if (req.kind === 'evaluated') {
          const m = req.measurement;
          const metrics = {
            bits_per_byte: m.bitsPerByte,
            top1: m.top1,
            kl: m.kl,
            proxy_bytes: req.artifact.proxyBytes,
            gb_per_gpu: req.verdict.gbPerGpu,
            fits: req.verdict.fits,
            baseline_top1: m.baselineTop1,
            relative_accuracy_loss: summary.relativeAccuracyLoss ?? 0,
            weight_reduction: req.verdict.weightReduction,
            decode_tokens_per_second: req.verdict.decodeTokensPerSecond,
            // Measured by the torch executor on a real checkpoint, next to compile's gb_per_gpu (absent for the proxy).
            ...(m.measuredMemory === undefined
              ? {}
              : { measured_peak_bytes: m.measuredMemory.peakBytes, device_total_bytes: m.measuredMemory.deviceTotalBytes, weight_bytes: m.measuredMemory.weightBytes }),
            ...(req.artifact.peakMemoryBytes === undefined ? {} : { quantize_peak_bytes: req.artifact.peakMemoryBytes }),
            ...(m.longContext === undefined ? {} : { long_context: m.longContext }),
          };
          await recordSucceededAttempt(trx, { candidateId: id, attempt: m.attempt, workerIdentity: m.workerIdentity, metrics });
          await recordResult(trx, id, metrics);
        } else if (req.kind === 'failed') {
          await recordFailedAttempt(trx, { candidateId: id, outcome: req.outOfMemory ? 'oom' : 'failed', error: `${req.failureType}: ${req.message}` });
        }
        await recordOutcome(trx, req.evolutionId, req.candidate, summary, req.kind === 'failed' ? req.failureType : null);
      });
      return summary;
    },

    async closeGeneration({ evolutionId, generation }: { evolutionId: string; generation: number }): Promise<void> {
      await finishGeneration(db, evolutionId, generation, 'completed');
    },
  };
}
