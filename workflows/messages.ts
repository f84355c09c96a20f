// Messages an evolution accepts: updates (validated before they enter history) and a status query.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { EvolutionStatus, RetryArgs, SetBudgetArgs } from '../schema/workflow-contracts.js';

export const pauseUpdate = defineUpdate<EvolutionStatus>('pause');
export const resumeUpdate = defineUpdate<EvolutionStatus>('resume');
/** Graceful: the generation in flight finishes, no new one starts. */
export const stopUpdate = defineUpdate<EvolutionStatus>('stop');
export const setBudgetUpdate = defineUpdate<EvolutionStatus, [SetBudgetArgs]>('setBudget');
/** Re-run failed evaluations (all, or the given candidates) as an extra round. */
export const retryUpdate = defineUpdate<{ queued: string[] }, [RetryArgs]>('retry');
export const statusQuery = defineQuery<EvolutionStatus>('status');
