// What one run of the graph-query benchmark measured, per graph size, and where it ran.
import type { SyntheticGraph } from './synthetic-graph.js';

export interface QueryTiming {
  /** The query, as the README names it. */
  query: string;
  /** What each run started from. */
  start: string;
  runs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Median and most rows (nodes, steps or frontier points) one run returned: the work behind the time. */
  medianRows: number;
  maxRows: number;
}

export interface SizeResult {
  targetNodes: number;
  graph: SyntheticGraph;
  databaseBytes: number;
  queries: QueryTiming[];
  /** Wall-clock seconds for this size: load, analyze, draws and every timed run. */
  totalSeconds: number;
}

export interface GraphBenchResult {
  machine: { cores: number; cpu: string; loadStart: number; loadEnd: number; postgres: string };
  warmup: number;
  runs: number;
  seed: number;
  sizes: SizeResult[];
  totalSeconds: number;
}
