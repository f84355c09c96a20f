// The README's knowledge-graph-queries block, from one run of benchmarks/graph-queries.ts: the
// machine, the graphs, a latency table per size, and the sentence on the 50 ms aim.
import type { GraphBenchResult } from './result.js';

export const GRAPH_QUERIES_BLOCK = 'graph-queries';
export const GRAPH_QUERIES_COMMAND = 'npm run bench:graph -- --write-readme';
/** The issue's aim: p50 and p99 under 50 ms at 100,000 nodes. */
export const AIM_MS = 50;
export const AIM_NODES = 100_000;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (x: number): string => (x < 10 ? x.toFixed(1) : x.toFixed(0));
const mb = (bytes: number): string => `${int(bytes / 2 ** 20)} MiB`;

export function graphQueriesReadme(r: GraphBenchResult): string {
  const m = r.machine;
  const lines = [
    `Measured by \`npm run bench:graph\` on ${m.cores} cores (${m.cpu}) against an embedded ${m.postgres} with its default settings; the 1-minute load average was ${m.loadStart.toFixed(1)} when it started and ${m.loadEnd.toFixed(1)} when it ended (other work shares these cores).`,
    `Each query ran ${r.warmup} times to warm up, then ${r.runs} times from start nodes drawn with a seeded PRNG (seed ${r.seed}); times are end to end through the repository function (kysely, pg, row parsing).`,
    '',
    '| graph | nodes | edges | evolutions | candidates | results | load | vacuum + analyze | on disk |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.sizes.map(
      (s) =>
        `| ${int(s.targetNodes)} | ${int(s.graph.nodes)} | ${int(s.graph.edges)} | ${int(s.graph.evolutions)} | ${int(s.graph.candidates)} | ${int(s.graph.results)} | ${s.graph.loadSeconds.toFixed(1)} s | ${s.graph.analyzeSeconds.toFixed(1)} s | ${mb(s.databaseBytes)} |`,
    ),
    '',
    `| query | from | ${r.sizes.map((s) => `${int(s.targetNodes)} nodes: p50 / p99 / max (ms) | rows: median / max`).join(' | ')} |`,
    `|---|---|${r.sizes.map(() => '---:|---:').join('|')}|`,
  ];
  const first = r.sizes[0];
  for (const [i, q] of (first?.queries ?? []).entries()) {
    const cells = r.sizes.map((s) => {
      const t = s.queries[i];
      return `${ms(t.p50Ms)} / ${ms(t.p99Ms)} / ${ms(t.maxMs)} | ${int(t.medianRows)} / ${int(t.maxRows)}`;
    });
    lines.push(`| ${q.query} | ${q.start} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  const aim = r.sizes.find((s) => s.targetNodes === AIM_NODES);
  if (aim) {
    const over = aim.queries.filter((q) => q.p50Ms >= AIM_MS || q.p99Ms >= AIM_MS);
    lines.push(
      over.length === 0
        ? `At ${int(AIM_NODES)} nodes every query's p50 and p99 are under ${AIM_MS} ms (the slowest p99: ${slowest(aim.queries)}).`
        : `At ${int(AIM_NODES)} nodes ${over.map((q) => `${q.query} (p50 ${ms(q.p50Ms)} ms, p99 ${ms(q.p99Ms)} ms)`).join(', ')} did not stay under ${AIM_MS} ms.`,
    );
  }
  lines.push(`The whole run took ${(r.totalSeconds / 60).toFixed(1)} minutes (${r.sizes.map((s) => `${int(s.targetNodes)} nodes: ${(s.totalSeconds / 60).toFixed(1)} min`).join(', ')}).`);
  return lines.join('\n');
}

function slowest(queries: GraphBenchResult['sizes'][number]['queries']): string {
  const q = [...queries].sort((a, b) => b.p99Ms - a.p99Ms)[0];
  return q ? `${q.query}, ${ms(q.p99Ms)} ms` : '—';
}
