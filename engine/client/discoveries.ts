// Discoveries as text: one method card each.
import type { StoredDiscovery } from '../../evolution/knowledge/discoveries.js';
import { formatGains } from './explain.js';

export function formatDiscoveries(found: readonly StoredDiscovery[]): string[] {
  if (found.length === 0) return ['no discoveries yet: no evolved candidate has beaten every manual recipe on its target'];
  const lines: string[] = [];
  for (const { id, card } of found) {
    const m = card.measured;
    lines.push(`${card.name}  (${id})`);
    lines.push(`  target: ${card.target}; family ${card.family}`);
    lines.push(`  measured: ${m.gbPerGpu.toFixed(1)} GB/GPU, KL ${m.kl.toExponential(2)}, ${m.bitsPerByte.toFixed(4)} bits/byte, top-1 ${(100 * m.top1).toFixed(2)}%`);
    lines.push(`  gains: ${formatGains(card)}`);
    const path = card.lineage.map((h) => (h.innovation ? `${h.innovation} (${h.pattern})` : h.operation === 'seed' ? `seed ${h.recipe}` : (h.operation ?? '?')));
    lines.push(`  lineage: ${path.join(' → ')}`);
    lines.push(`  genes: ${JSON.stringify({ default: card.genes.default, roles: card.genes.roles, depth: card.genes.depth, expertLayers: card.genes.expertLayers, experts: card.genes.experts, kvCache: card.genes.kvCache })}`);
    lines.push('');
  }
  lines.push(`${found.length} discover${found.length === 1 ? 'y' : 'ies'}; \`evoquant lineage <discovery id>\` walks the path, \`evoquant explain <candidate>\` the reasoning`);
  return lines;
}
