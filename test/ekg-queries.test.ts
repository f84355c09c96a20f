// The knowledge graph's read queries on a real Postgres: subgraph (hops both ways, kind filters,
// fanout and limit), the evolution frontier against the archive's paretoFrontier, and the
// level-by-level lineage/descendants walk against a breadth-first search in JavaScript.
import test from 'ava';
import type { Kysely } from 'kysely';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { proposeCandidate, setCandidateStatus } from '../engine/db/candidates.js';
import { ancestorDepths, descendants, getNode, lineage, upsertEdge, upsertNode } from '../engine/db/ekg.js';
import { evolutionFrontier, subgraph } from '../engine/db/ekg-queries.js';
import { createEvolution } from '../engine/db/evolutions.js';
import { recordResult } from '../engine/db/results.js';
import { paretoFrontier } from '../evolution/archive/archive.js';
import type { Database, EkgEdgeKind, EkgNodeKind } from '../schema/db.js';
import { usePostgres } from './helpers/postgres.js';

const pg = usePostgres(test);

/**
 *   i1 ◀─ i2 ◀─ i3 ◀─ c1 ◀─ c2 ─(failed-because)▶ d
 *          │           │
 *          ├─(applies-pattern)▶ p
 *          └─(implemented-by)▶ t ◀─(applies-pattern)─ c1      (arrows: src ─kind▶ dst)
 */
async function handBuilt(db: Kysely<Database>): Promise<void> {
  const nodes: Array<[string, EkgNodeKind]> = [
    ['i1', 'innovation'],
    ['i2', 'innovation'],
    ['i3', 'innovation'],
    ['p', 'pattern'],
    ['t', 'technique'],
    ['c1', 'candidate'],
    ['c2', 'candidate'],
    ['d', 'discovery'],
  ];
  for (const [id, kind] of nodes) await upsertNode(db, { id, kind, name: id });
  const edges: Array<[string, string, EkgEdgeKind]> = [
    ['i2', 'i1', 'derived-from'],
    ['i3', 'i2', 'derived-from'],
    ['i2', 'p', 'applies-pattern'],
    ['i2', 't', 'implemented-by'],
    ['c1', 'i3', 'derived-from'],
    ['c1', 't', 'applies-pattern'],
    ['c2', 'c1', 'derived-from'],
    ['c2', 'd', 'failed-because'],
  ];
  for (const [src, dst, kind] of edges) await upsertEdge(db, { src, dst, kind });
}

const at = (g: { nodes: Array<{ id: string; depth: number }> }): Array<[string, number]> => g.nodes.map((n) => [n.id, n.depth]);
const edgeList = (g: { edges: Array<{ src: string; dst: string; kind: string }> }): string[] => g.edges.map((e) => `${e.src}-${e.kind}->${e.dst}`);

test.serial('subgraph: nodes within hops in both directions, and the edges between them', async (t) => {
  const { db } = await pg().freshDatabase();
  await handBuilt(db);
  t.deepEqual(at(await subgraph(db, ['i2'], { hops: 0, limit: 10 })), [['i2', 0]]);
  const one = await subgraph(db, ['i2'], { hops: 1, limit: 10 });
  t.deepEqual(at(one), [['i2', 0], ['i1', 1], ['i3', 1], ['p', 1], ['t', 1]]);
  t.deepEqual(edgeList(one).sort(), ['i2-applies-pattern->p', 'i2-derived-from->i1', 'i2-implemented-by->t', 'i3-derived-from->i2']);
  t.false(one.truncated);
  // Rows as the repository reads them; timestamps to within a millisecond (the two parsers of the
  // microseconds may round differently).
  const same = (got: object | undefined, want: object): void => {
    const [g, w] = [(got ?? {}) as Record<string, unknown>, want as Record<string, unknown>];
    t.deepEqual(Object.keys(g).sort(), Object.keys(w).sort());
    for (const [k, v] of Object.entries(w)) {
      if (v instanceof Date) t.true(g[k] instanceof Date && Math.abs((g[k] as Date).getTime() - v.getTime()) <= 1, k);
      else t.deepEqual(g[k], v, k);
    }
  };
  same(one.nodes[0], { ...(await getNode(db, 'i2'))!, depth: 0 });
  same(one.edges.find((e) => e.src === 'i2' && e.dst === 'i1'), await db.selectFrom('ekg_edge').selectAll().where('src', '=', 'i2').where('dst', '=', 'i1').executeTakeFirstOrThrow());

  const two = await subgraph(db, ['i2'], { hops: 2, limit: 10 });
  t.deepEqual(at(two), [['i2', 0], ['i1', 1], ['i3', 1], ['p', 1], ['t', 1], ['c1', 2]], 'c1 through i3 and through t, once');
  t.true(edgeList(two).includes('c1-applies-pattern->t') && edgeList(two).includes('c1-derived-from->i3'));
  t.false(edgeList(two).some((e) => e.startsWith('c2')), 'no edge to a node outside the subgraph');

  const derived = await subgraph(db, ['i2'], { hops: 3, limit: 10, edgeKinds: ['derived-from'] });
  t.deepEqual(at(derived), [['i2', 0], ['i1', 1], ['i3', 1], ['c1', 2], ['c2', 3]]);
  t.true(derived.edges.every((e) => e.kind === 'derived-from'));

  const innovations = await subgraph(db, ['c2', 'c1'], { hops: 3, limit: 10, nodeKinds: ['innovation'] });
  t.deepEqual(at(innovations), [['c1', 0], ['c2', 0], ['i3', 1], ['i2', 2], ['i1', 3]], 'seeds kept whatever their kind; the walk steps onto innovations only');

  const many = await subgraph(db, ['c2', 'i1'], { hops: 5, limit: 100 });
  t.is(many.nodes.length, 8);
  t.deepEqual(await subgraph(db, [], { hops: 2, limit: 10 }), { nodes: [], edges: [], truncated: false });
  await t.throwsAsync(subgraph(db, ['i2'], { hops: -1, limit: 10 }), { message: /hops must be an integer/ });
});

test.serial('subgraph: the limit cuts the walk nearest first; the fanout takes the newest edges of a hub', async (t) => {
  const { db } = await pg().freshDatabase();
  await handBuilt(db);
  const cut = await subgraph(db, ['i2'], { hops: 2, limit: 3 });
  t.true(cut.truncated);
  t.is(cut.nodes.length, 3);
  t.deepEqual(cut.nodes.map((n) => n.depth), [0, 1, 1]);

  await upsertNode(db, { id: 'hub', kind: 'technique', name: 'hub' });
  for (let i = 0; i < 10; i++) {
    await upsertNode(db, { id: `k${i}`, kind: 'candidate', name: `k${i}` });
    await db
      .insertInto('ekg_edge')
      .values({ src: `k${i}`, dst: 'hub', kind: 'applies-pattern', created_at: new Date(Date.UTC(2026, 0, 1 + i)) })
      .execute();
  }
  const hub = await subgraph(db, ['hub'], { hops: 1, limit: 100, fanout: 3 });
  t.deepEqual(at(hub), [['hub', 0], ['k7', 1], ['k8', 1], ['k9', 1]]);
  t.is(hub.edges.length, 3);
  t.is((await subgraph(db, ['hub'], { hops: 1, limit: 100 })).nodes.length, 11, 'the default fanout (32) takes all ten');
});

interface Point {
  key: string;
  gb: number;
  kl: number;
  fits: boolean;
  status: 'evaluated' | 'rejected';
}

async function writeEvolution(db: Kysely<Database>, evolutionId: string, points: readonly Point[]): Promise<Map<string, string>> {
  await createEvolution(db, { id: evolutionId, config: {} });
  const ids = new Map<string, string>();
  for (const p of points) {
    const c = await proposeCandidate(db, { evolutionId, generation: 0, recipe: { name: p.key } });
    ids.set(c.id, p.key);
    await setCandidateStatus(db, c.id, p.status);
    if (p.status === 'evaluated') {
      await recordResult(db, c.id, { bits_per_byte: 1, top1: 0.5, kl: p.kl, proxy_bytes: 1000, gb_per_gpu: p.gb, fits: p.fits });
    }
  }
  return ids;
}

/** What the archive computes from the same rows. */
function archiveFrontier(ids: Map<string, string>, points: readonly Point[]): Array<{ candidateId: string; gbPerGpu: number; kl: number }> {
  const byKey = new Map(points.map((p) => [p.key, p]));
  const measured = [...ids].flatMap(([id, key]) => {
    const p = byKey.get(key)!;
    return p.status === 'evaluated' ? [{ id, fits: p.fits, gbPerGpu: p.gb, kl: p.kl }] : [];
  });
  return paretoFrontier(measured, (m) => m).map((m) => ({ candidateId: m.id, gbPerGpu: m.gbPerGpu, kl: m.kl }));
}

test.serial('evolution frontier: least memory and KL among evaluated candidates that fit, as paretoFrontier says', async (t) => {
  const { db } = await pg().freshDatabase();
  const points: Point[] = [
    { key: 'a', gb: 10, kl: 0.5, fits: true, status: 'evaluated' },
    { key: 'b', gb: 10, kl: 0.5, fits: true, status: 'evaluated' }, // equal to a: neither dominates
    { key: 'c', gb: 10, kl: 0.6, fits: true, status: 'evaluated' }, // same memory, more KL
    { key: 'd', gb: 12, kl: 0.5, fits: true, status: 'evaluated' }, // more memory, same KL
    { key: 'e', gb: 12, kl: 0.3, fits: true, status: 'evaluated' },
    { key: 'f', gb: 8, kl: 0.9, fits: true, status: 'evaluated' },
    { key: 'g', gb: 9, kl: 0.95, fits: true, status: 'evaluated' },
    { key: 'h', gb: 5, kl: 0.1, fits: false, status: 'evaluated' }, // would dominate all, but does not fit
    { key: 'i', gb: 1, kl: 0.01, fits: true, status: 'rejected' }, // no result
    { key: 'j', gb: 20, kl: 0.05, fits: true, status: 'evaluated' },
  ];
  const ids = await writeEvolution(db, 'evo-a', points);
  await writeEvolution(db, 'evo-b', [{ key: 'x', gb: 1, kl: 0.001, fits: true, status: 'evaluated' }]);
  const front = await evolutionFrontier(db, 'evo-a');
  t.deepEqual(
    front.map((p) => ids.get(p.candidateId)),
    ['f', ...['a', 'b'].sort((x, y) => ([...ids].find(([, k]) => k === x)![0] < [...ids].find(([, k]) => k === y)![0] ? -1 : 1)), 'e', 'j'],
  );
  t.deepEqual(front, archiveFrontier(ids, points));
  t.deepEqual(await evolutionFrontier(db, 'evo-none'), []);
});

test.serial('evolution frontier agrees with paretoFrontier on random evolutions full of ties', async (t) => {
  const { db } = await pg().freshDatabase();
  const rng = xoroshiro128plus(8);
  for (let e = 0; e < 4; e++) {
    // A coarse grid makes equal memory, equal KL and duplicate points common.
    const points: Point[] = Array.from({ length: 40 }, (_, i) => ({
      key: `e${e}-${i}`,
      gb: 10 + uniformInt(rng, 0, 8) * 2.5,
      kl: uniformInt(rng, 1, 12) / 16,
      fits: uniformInt(rng, 0, 9) > 0,
      status: uniformInt(rng, 0, 9) > 0 ? 'evaluated' : 'rejected',
    }));
    const ids = await writeEvolution(db, `evo-${e}`, points);
    const expected = archiveFrontier(ids, points);
    t.true(expected.length > 0);
    t.deepEqual(await evolutionFrontier(db, `evo-${e}`), expected, `evolution ${e}`);
  }
});

/** Shortest depths by breadth-first search in JavaScript, the start excluded. */
function bfs(edges: ReadonlyArray<[string, string, EkgEdgeKind]>, start: string, dir: 'up' | 'down', kinds: readonly EkgEdgeKind[], maxDepth: number): Array<[string, number]> {
  const depth = new Map<string, number>([[start, 0]]);
  let level = [start];
  for (let d = 1; d <= maxDepth && level.length > 0; d++) {
    const next: string[] = [];
    for (const id of level) {
      for (const [src, dst, kind] of edges) {
        if (!kinds.includes(kind)) continue;
        const [near, far] = dir === 'up' ? [src, dst] : [dst, src];
        if (near === id && !depth.has(far)) {
          depth.set(far, d);
          next.push(far);
        }
      }
    }
    level = next;
  }
  depth.delete(start);
  return [...depth].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
}

test.serial('lineage and descendants give every reachable node once, at its shortest depth (random graph with cycles)', async (t) => {
  const { db } = await pg().freshDatabase();
  const rng = xoroshiro128plus(3);
  const n = 30;
  const ids = Array.from({ length: n }, (_, i) => `n${String(i).padStart(2, '0')}`);
  for (const id of ids) await upsertNode(db, { id, kind: 'candidate', name: id });
  const kinds: EkgEdgeKind[] = ['derived-from', 'improved-over', 'failed-because'];
  const edges: Array<[string, string, EkgEdgeKind]> = [];
  const seen = new Set<string>();
  while (edges.length < 70) {
    // Mostly towards older (smaller) ids, sometimes back: paths of many lengths, and a few cycles.
    const a = uniformInt(rng, 1, n - 1);
    const b = uniformInt(rng, 0, 9) === 0 ? uniformInt(rng, a + 1 === n ? 0 : a + 1, n - 1) : uniformInt(rng, 0, a - 1);
    const kind = kinds[uniformInt(rng, 0, 2)];
    const key = `${a}-${b}-${kind}`;
    if (a === b || seen.has(key)) continue;
    seen.add(key);
    edges.push([ids[a], ids[b], kind]);
    await upsertEdge(db, { src: ids[a], dst: ids[b], kind });
  }
  const genealogy: EkgEdgeKind[] = ['derived-from', 'improved-over'];
  for (const id of ids) {
    const depths = (rows: Array<{ id: string; depth: number }>): Array<[string, number]> => rows.map((r) => [r.id, r.depth]);
    t.deepEqual(depths(await lineage(db, id)), bfs(edges, id, 'up', genealogy, 32), `lineage ${id}`);
    t.deepEqual(depths(await descendants(db, id)), bfs(edges, id, 'down', genealogy, 32), `descendants ${id}`);
    t.deepEqual(depths(await lineage(db, id, { kinds, maxDepth: 2 })), bfs(edges, id, 'up', kinds, 2), `lineage ${id}, every kind, 2 hops`);
    t.deepEqual(await ancestorDepths(db, id), bfs(edges, id, 'up', genealogy, 32).map(([x, d]) => ({ id: x, depth: d })), `ancestorDepths ${id}`);
  }
});
