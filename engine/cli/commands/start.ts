// evoquant start --config <file>: validate an evolution config (schema, then semantics) and start
// its workflow. Nothing is started unless every check passes.
import type { Command } from 'commander';
import { emit } from '../output.js';

interface StartFlags {
  config: string;
  id?: string;
  json?: boolean;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('start an evolution from a YAML/JSON config; prints its id')
    .requiredOption('--config <file>', 'evolution config (.yaml, .yml or .json)')
    // Checked with every other id in args.ts (checkCommandIds).
    .option('--id <id>', 'workflow id to use instead of <name>-<random>')
    .option('--json', 'print JSON')
    .action(async (flags: StartFlags) => {
      const { loadEvolutionConfigFile } = await import('../../client/config-file.js');
      const { checkEvolutionConfig } = await import('../../client/config-checks.js');
      const config = loadEvolutionConfigFile(flags.config);
      checkEvolutionConfig(config);
      const { resolveEndpoints, withClient } = await import('../../client/connection.js');
      const { startEvolution } = await import('../../client/start.js');
      const endpoints = resolveEndpoints();
      const started = await withClient(endpoints, (client) => startEvolution(client, config, { id: flags.id }));
      // The bare id on stdout, so `ID=$(evoquant start …)` works; the hint goes to stderr.
      emit(flags, { id: started.id, runId: started.runId }, () => started.id);
      if (!flags.json) process.stderr.write(`follow it: evoquant status ${started.id} --follow\n`);
    });
}
