// evoquant lineage <node>: the ancestry of an EKG node (a candidate by default) as a tree, with
// the kind of every edge and each ancestor's depth.
import type { Command } from 'commander';
import { positiveInt } from '../args.js';
import { UsageError } from '../errors.js';
import { emit } from '../output.js';

interface LineageFlags {
  kinds?: string;
  depth?: number;
  json?: boolean;
}

export function registerLineage(program: Command): void {
  program
    .command('lineage')
    .description('ancestry of a candidate (or any EKG node) over the knowledge graph, with edge kinds and depth')
    .argument('<node>', 'EKG node id (candidate:…, technique:…) or a bare candidate id')
    .option('--kinds <list>', 'edge kinds to follow, comma-separated (default: all)')
    .option('--depth <n>', 'at most n hops (default 32)', positiveInt('--depth'))
    .option('--json', 'print JSON')
    .action(async (node: string, flags: LineageFlags) => {
      const { EKG_EDGE_KINDS } = await import('../../../schema/db.js');
      type Kind = (typeof EKG_EDGE_KINDS)[number];
      const isKind = (k: string): k is Kind => (EKG_EDGE_KINDS as readonly string[]).includes(k);
      let kinds: Kind[] | undefined;
      if (flags.kinds !== undefined) {
        const wanted = flags.kinds.split(',').map((k) => k.trim()).filter(Boolean);
        const bad = wanted.find((k) => !isKind(k));
        if (bad !== undefined || wanted.length === 0) throw new UsageError(`--kinds: unknown edge kind "${bad ?? ''}" (known: ${EKG_EDGE_KINDS.join(', ')})`);
        kinds = wanted.filter(isKind);
      }
      const { resolveEndpoints, withDatabase } = await import('../../client/connection.js');
      const { formatLineageTree, lineageOf } = await import('../../client/lineage.js');
      const result = await withDatabase(resolveEndpoints(), (db) => lineageOf(db, node, { kinds, maxDepth: flags.depth }));
      emit(flags, result, () =>
        [...formatLineageTree(result.tree), '', `${result.ancestors.length} ancestor(s), ${result.edges.length} edge(s)`].join('\n'),
      );
    });
}
