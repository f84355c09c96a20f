// evoquant explain <candidate>: why a candidate exists — its chain of thought, the step it followed,
// its parents, the innovations along its lineage, its measured effect, and its discovery card.
import type { Command } from 'commander';
import { emit } from '../output.js';

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('why a candidate exists: its chain of thought, parents, innovations applied and measured effect')
    .argument('<candidate>', 'candidate id (cand_…, or candidate:cand_…)')
    .option('--json', 'print JSON')
    .action(async (candidate: string, flags: { json?: boolean }) => {
      const { resolveEndpoints, withDatabase } = await import('../../client/connection.js');
      const { explainCandidate, formatExplanation } = await import('../../client/explain.js');
      const result = await withDatabase(resolveEndpoints(), (db) => explainCandidate(db, candidate));
      emit(flags, result, () => formatExplanation(result).join('\n'));
    });
}
