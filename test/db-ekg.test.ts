// The knowledge graph: idempotent upserts, one-hop neighbours both ways, lineage walks.
import test from 'ava';
import type { Kysely } from 'kysely';
import { descendants, getNode, lineage, neighboursIn, neighboursOut, nodesByKind, upsertEdge, upsertNode } from '../engine/db/ekg.js';
import type { Database, EkgEdgeKind } from '../schema/db.js';
import { usePostgres } from './helpers/postgres.js';

const pg = usePostgres(test);

/**
 *   rtn ◀─ gptq ◀─ c1 ◀─ c2 ◀─(derived-from, improved-over)─ c3 ─(failed-because)▶ nan-scales
 *    ▲                    │
 *    └────── awq ◀────────┘          (arrows: src ─kind▶ dst, i.e. towards ancestors)
 */
async function seedGraph(db: Kysely<Database>): Promise<void> {
  await upsertNode(db, { id: 'rtn', kind: 'technique', name: 'round-to-nearest' });
  await upsertNode(db, { id: 'gptq', kind: 'technique', name: 'GPTQ' });
  await upsertNode(db, { id: 'awq', kind: 'technique', name: 'AWQ' });
  await upsertNode(db, { id: 'nan-scales', kind: 'discovery', name: 'NaN scales on unrouted experts' });
  for (const id of ['c1', 'c2', 'c3']) await upsertNode(db, { id, kind: 'candidate', name: id });
  const edges: Array<[string, string, EkgEdgeKind]> = [
    ['gptq', 'rtn', 'derived-from'],
    ['awq', 'rtn', 'derived-from'],
    ['c1', 'gptq', 'derived-from'],
    ['c2', 'c1', 'derived-from'],
    ['c2', 'awq', 'derived-from'],
    ['c3', 'c2', 'derived-from'],
    ['c3', 'c2', 'improved-over'],
    ['c3', 'nan-scales', 'failed-because'],
  ];
  for (const [src, dst, kind] of edges) await upsertEdge(db, { src, dst, kind });
}

const depths = (rows: Array<{ id: string; depth: number }>): Array<[string, number]> => rows.map((r) => [r.id, r.depth]);

test.serial('nodes and edges: written twice, stored once', async (t) => {
  const { db } = await pg().freshDatabase();
  const a = await upsertNode(db, { id: 'gptq', kind: 'technique', name: 'GPTQ', payload: { paper: 'arXiv:2210.17323' } });
  const b = await upsertNode(db, { id: 'gptq', kind: 'technique', name: 'GPTQ', payload: { paper: 'arXiv:2210.17323' } });
  t.deepEqual(b, a, 'an identical write changes nothing, not even updated_at');
  const c = await upsertNode(db, { id: 'gptq', kind: 'technique', name: 'GPTQ', payload: { paper: 'arXiv:2210.17323', uses: 3 } });
  t.deepEqual(c.payload, { paper: 'arXiv:2210.17323', uses: 3 });
  t.deepEqual(c.created_at, a.created_at);
  await t.throwsAsync(upsertNode(db, { id: 'gptq', kind: 'pattern', name: 'GPTQ' }), { message: /is a technique, not a pattern/ });
  t.is((await getNode(db, 'gptq'))?.kind, 'technique');

  await upsertNode(db, { id: 'rtn', kind: 'technique', name: 'RTN' });
  const e1 = await upsertEdge(db, { src: 'gptq', dst: 'rtn', kind: 'derived-from' });
  const e2 = await upsertEdge(db, { src: 'gptq', dst: 'rtn', kind: 'derived-from' });
  t.deepEqual(e2, e1);
  const e3 = await upsertEdge(db, { src: 'gptq', dst: 'rtn', kind: 'derived-from', payload: { note: 'adds Hessian' } });
  t.deepEqual(e3.payload, { note: 'adds Hessian' });
  t.is((await neighboursOut(db, 'gptq')).length, 1);
  await t.throwsAsync(upsertEdge(db, { src: 'gptq', dst: 'ghost', kind: 'requires' }), { message: /foreign key/ });
  t.deepEqual((await nodesByKind(db, 'technique')).map((n) => n.id), ['gptq', 'rtn']);
});

test.serial('neighbours in both directions, filtered by edge kind', async (t) => {
  const { db } = await pg().freshDatabase();
  await seedGraph(db);
  const out = await neighboursOut(db, 'c3');
  t.deepEqual(out.map((n) => [n.edge.kind, n.node.id]), [
    ['derived-from', 'c2'],
    ['failed-because', 'nan-scales'],
    ['improved-over', 'c2'],
  ]);
  t.is(out[1]?.node.kind, 'discovery');
  t.deepEqual((await neighboursOut(db, 'c3', { kinds: ['failed-because'] })).map((n) => n.node.id), ['nan-scales']);
  t.deepEqual((await neighboursIn(db, 'rtn')).map((n) => n.node.id), ['awq', 'gptq']);
  t.deepEqual((await neighboursIn(db, 'c2', { kinds: ['improved-over'] })).map((n) => n.edge.src), ['c3']);
  t.deepEqual(await neighboursIn(db, 'c3'), []);
});

test.serial('lineage walks ancestors with their shortest depth', async (t) => {
  const { db } = await pg().freshDatabase();
  await seedGraph(db);
  t.deepEqual(depths(await lineage(db, 'c3')), [
    ['c2', 1],
    ['awq', 2],
    ['c1', 2],
    ['gptq', 3],
    ['rtn', 3], // via awq; via gptq it would be 4
  ]);
  t.deepEqual(depths(await lineage(db, 'c3', { maxDepth: 2 })), [['c2', 1], ['awq', 2], ['c1', 2]]);
  t.deepEqual(depths(await lineage(db, 'c3', { kinds: ['failed-because'] })), [['nan-scales', 1]]);
  t.deepEqual(depths(await lineage(db, 'c3', { kinds: ['improved-over'] })), [['c2', 1]]);
  t.deepEqual(await lineage(db, 'rtn'), [], 'a root has no ancestors');
  const [first] = await lineage(db, 'c2');
  t.is(first?.kind, 'technique', 'rows carry the node columns');

  t.deepEqual(depths(await descendants(db, 'rtn')), [
    ['awq', 1],
    ['gptq', 1],
    ['c1', 2],
    ['c2', 2],
    ['c3', 3],
  ]);
});

test.serial('a cycle ends the walk instead of looping', async (t) => {
  const { db } = await pg().freshDatabase();
  await seedGraph(db);
  await upsertEdge(db, { src: 'rtn', dst: 'c3', kind: 'derived-from' }); // nonsense, but possible data
  const walked = await lineage(db, 'c3', { maxDepth: 50 });
  t.deepEqual(walked.map((r) => r.id).sort(), ['awq', 'c1', 'c2', 'gptq', 'rtn'], 'every ancestor once, never the start');
});
