// evoquant retry <id> [--candidate C …]: re-run failed evaluations. A running evolution queues a
// retry round itself (the `retry` update); a completed one gets a generation workflow of its own,
// which this command waits for.
import type { Command } from 'commander';
import { emit } from '../output.js';

interface RetryFlags {
  candidate: string[];
  json?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerRetry(program: Command): void {
  program
    .command('retry')
    .description('re-run failed or infeasible evaluations of an evolution (all, or the given candidates)')
    .argument('<id>', 'evolution id')
    .option('--candidate <id>', 'candidate to re-run (repeatable; default: every failed one)', collect, [])
    .option('--json', 'print JSON')
    .action(async (id: string, flags: RetryFlags) => {
      const { resolveEndpoints, withClient, withDatabase } = await import('../../client/connection.js');
      const { retryEvolution } = await import('../../client/retry.js');
      const { table } = await import('../../client/format.js');
      const endpoints = resolveEndpoints();
      const report = await withClient(endpoints, (client) =>
        withDatabase(endpoints, (db) =>
          retryEvolution(client, db, id, flags.candidate.length > 0 ? flags.candidate : undefined, {
            onStarted: (workflowId, ids) => {
              if (!flags.json) process.stderr.write(`re-running ${ids.length} candidate(s) as ${workflowId}; waiting for workers…\n`);
            },
          }),
        ),
      );
      emit(flags, report, () => {
        switch (report.mode) {
          case 'nothing':
            return `${id}: nothing to retry (${report.reason})`;
          case 'queued':
            return report.queued.length === 0
              ? `${id}: every requested candidate was already queued for retry`
              : `${id}: queued ${report.queued.length} candidate(s) for a retry round: ${report.queued.join(', ')}`;
          case 'ran':
            return [
              `${report.workflowId}: re-ran ${report.candidates.length} candidate(s)`,
              ...table(
                ['candidate', 'recipe', 'status', 'GB/GPU', 'KL', 'error'],
                report.candidates.map((c) => [c.id, c.recipeName, c.status, c.gbPerGpu === null ? '-' : c.gbPerGpu.toFixed(1), c.kl === null ? '-' : c.kl.toFixed(4), c.error ?? '']),
              ).map((l) => `  ${l}`),
            ].join('\n');
        }
      });
    });
}
