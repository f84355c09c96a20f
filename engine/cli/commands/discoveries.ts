// evoquant discoveries [--evolution <id>]: the candidates that beat every manual recipe on their
// target, each with its method card (genes, lineage through the innovations, measured gains).
import type { Command } from 'commander';
import { emit } from '../output.js';

export function registerDiscoveries(program: Command): void {
  program
    .command('discoveries')
    .description('discoveries: evolved recipes that beat every builtin and seed innovation on their target, with method cards')
    .option('--id <evolution>', 'only this evolution\'s')
    .option('--json', 'print JSON')
    .action(async (flags: { id?: string; json?: boolean }) => {
      const { resolveEndpoints, withDatabase } = await import('../../client/connection.js');
      const { listDiscoveries } = await import('../../../evolution/knowledge/discoveries.js');
      const { formatDiscoveries } = await import('../../client/discoveries.js');
      const found = await withDatabase(resolveEndpoints(), (db) => listDiscoveries(db, { evolutionId: flags.id }));
      emit(flags, found, () => formatDiscoveries(found).join('\n'));
    });
}
