// Puts the seed graph of innovations into the knowledge graph, idempotently: pattern, innovation,
// hardware, kernel and serving-stack nodes; derived-from edges carrying the pattern applied,
// applies-pattern, requires, and implemented-by edges to the technique (operator) nodes. Running it
// twice changes nothing; it only adds to a graph seeded before (technique nodes keep their history).
import { upsertEdge, upsertNode } from '../../engine/db/ekg.js';
import type { DbOrTrx } from '../../engine/db/connection.js';
import type { EkgNodeKind, JsonObject } from '../../schema/db.js';
import type { InnovationSeed, Platform } from '../../schema/innovation.js';
import { innovationSeed } from './innovations/load.js';
import { seedTechniques, techniqueNodeId } from './seed.js';

export const innovationNodeId = (id: string): string => `innovation:${id}`;
export const patternNodeId = (id: string): string => `pattern:${id}`;

const PLATFORM_PREFIX: Record<Platform['kind'], string> = { hardware: 'hardware', kernel: 'kernel', 'serving-stack': 'stack' };
export const platformNodeId = (p: Pick<Platform, 'id' | 'kind'>): string => `${PLATFORM_PREFIX[p.kind]}:${p.id}`;

/** Zod output as a JSON object (absent optionals dropped, so the payload compares equal next time). */
const json = (value: object): JsonObject => JSON.parse(JSON.stringify(value)) as JsonObject;

export async function seedInnovationGraph(db: DbOrTrx, seed: InnovationSeed = innovationSeed()): Promise<void> {
  for (const p of seed.patterns) await upsertNode(db, { id: patternNodeId(p.id), kind: 'pattern', name: p.name, payload: json({ pattern: p.id, description: p.description }) });
  const platformIds = new Map(seed.platforms.map((p) => [p.id, platformNodeId(p)]));
  for (const p of seed.platforms) {
    const { id, kind, name, requires: _requires, ...rest } = p;
    await upsertNode(db, { id: platformNodeId(p), kind: kind as EkgNodeKind, name, payload: json({ platform: id, ...rest }) });
  }
  for (const p of seed.platforms) for (const r of p.requires) await upsertEdge(db, { src: platformNodeId(p), dst: platformIds.get(r)!, kind: 'requires' });
  for (const n of seed.innovations) {
    const { id, name, derivedFrom: _d, requires: _r, operators: _o, ...rest } = n;
    await upsertNode(db, { id: innovationNodeId(id), kind: 'innovation', name, payload: json({ innovation: id, executable: n.genes !== null, ...rest }) });
  }
  for (const n of seed.innovations) {
    const src = innovationNodeId(n.id);
    for (const d of n.derivedFrom) await upsertEdge(db, { src, dst: innovationNodeId(d.from), kind: 'derived-from', payload: { pattern: d.pattern } });
    for (const p of n.patterns) await upsertEdge(db, { src, dst: patternNodeId(p), kind: 'applies-pattern' });
    for (const r of n.requires) await upsertEdge(db, { src, dst: platformIds.get(r)!, kind: 'requires' });
    for (const o of n.operators) await upsertEdge(db, { src, dst: techniqueNodeId(o), kind: 'implemented-by' });
  }
}

/** Everything an evolution starts from: the operators (technique nodes) and the seed graph over them. */
export async function seedKnowledgeGraph(db: DbOrTrx): Promise<void> {
  await seedTechniques(db);
  await seedInnovationGraph(db);
}
