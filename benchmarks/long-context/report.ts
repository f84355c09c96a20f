// The long-context evolution's results from Postgres: per candidate, bits/byte against the original
// per position bucket, retrieval accuracy lost, memory on the target; and the aim, judged honestly:
// the best evolved recipe against the best manual one (the seeds) on the long bucket and retrieval,
// with the short bucket no worse.
import type { Kysely } from 'kysely';
import { listCandidates } from '../../engine/db/candidates.js';
import { listResults } from '../../engine/db/results.js';
import type { Database } from '../../schema/db.js';
import { ResultMetrics } from '../../schema/db.js';
import { longBucket, type LongContextSummary } from '../../schema/long-context.js';
import { Recipe } from '../../schema/recipe.js';
import { kvPolicyLabel } from '../../science/physics/kv-cache.js';

export interface LongContextRow {
  id: string;
  name: string;
  generation: number;
  kv: string;
  gbPerGpu: number;
  fits: boolean;
  /** Δ bits/byte against the original, per bucket (short first). */
  deltas: number[];
  /** Mean retrieval accuracy lost against the original, over every distance, in [−1, 1]. */
  retrievalLoss: number;
  summary: LongContextSummary;
}

export async function longContextRows(db: Kysely<Database>, evolutionId: string): Promise<LongContextRow[]> {
  const candidates = new Map((await listCandidates(db, evolutionId)).map((c) => [c.id, c]));
  const rows: LongContextRow[] = [];
  for (const r of await listResults(db, evolutionId)) {
    const metrics = ResultMetrics.parse(r.metrics);
    const c = candidates.get(r.candidate_id);
    if (!metrics.long_context || !c) continue;
    const recipe = Recipe.parse(c.recipe);
    const s = metrics.long_context;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    rows.push({
      id: r.candidate_id,
      name: recipe.name,
      generation: r.generation,
      kv: kvPolicyLabel(recipe.kvCache),
      gbPerGpu: metrics.gb_per_gpu,
      fits: metrics.fits,
      deltas: s.buckets.map((b) => b.bits_per_byte - b.baseline_bits_per_byte),
      retrievalLoss: mean(s.retrieval.map((x) => x.baseline_accuracy)) - mean(s.retrieval.map((x) => x.accuracy)),
      summary: s,
    });
  }
  return rows;
}

export interface AimVerdict {
  bestManual: LongContextRow | null;
  bestEvolved: LongContextRow | null;
  /** Each part of the aim: long-bucket Δ at most half the manual's; retrieval loss at most half; short bucket no worse. */
  long: boolean;
  retrieval: boolean;
  short: boolean;
  met: boolean;
}

const longDelta = (r: LongContextRow) => r.deltas[r.deltas.length - 1];
const byLong = (a: LongContextRow, b: LongContextRow) => longDelta(a) - longDelta(b) || a.retrievalLoss - b.retrievalLoss || a.id.localeCompare(b.id);

export function judgeAim(rows: readonly LongContextRow[]): AimVerdict {
  const fitting = rows.filter((r) => r.fits);
  const bestManual = fitting.filter((r) => r.generation === 0).sort(byLong)[0] ?? null;
  const bestEvolved = fitting.filter((r) => r.generation > 0).sort(byLong)[0] ?? null;
  const both = bestManual !== null && bestEvolved !== null;
  const long = both && longDelta(bestEvolved) <= 0.5 * longDelta(bestManual);
  const retrieval = both && bestEvolved.retrievalLoss <= 0.5 * Math.max(0, bestManual.retrievalLoss);
  const short = both && bestEvolved.deltas[0] <= bestManual.deltas[0];
  return { bestManual, bestEvolved, long, retrieval, short, met: long && retrieval && short };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const signed = (x: number, digits = 4) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;
const points = (x: number) => `${x >= 0 ? '' : '−'}${Math.abs(100 * x).toFixed(1)} pt`;

/** Markdown: the aim's two rows, then every fitting candidate measured (best long bucket first). */
export function formatLongContextReport(rows: readonly LongContextRow[], verdict: AimVerdict): string {
  const sample = rows[0]?.summary;
  if (!sample) return 'No candidate was measured.';
  const bucketHeads = sample.buckets.map((b) => `Δ bits/byte ${b.from}–${b.to - 1}`);
  const head = `| | recipe | KV cache | GB/GPU | ${bucketHeads.join(' | ')} | retrieval lost |`;
  const rule = `|---|---|---|---:|${bucketHeads.map(() => '---:').join('|')}|---:|`;
  const line = (label: string, r: LongContextRow) => `| ${label} | \`${r.name}\` | ${r.kv} | ${r.gbPerGpu.toFixed(1)} | ${r.deltas.map((d) => signed(d)).join(' | ')} | ${points(r.retrievalLoss)} |`;
  const out = [head, rule];
  if (verdict.bestManual) out.push(line('best manual', verdict.bestManual));
  if (verdict.bestEvolved) out.push(line('best evolved', verdict.bestEvolved));
  const yes = (b: boolean) => (b ? 'met' : '**not met**');
  const m = verdict.bestManual;
  const e = verdict.bestEvolved;
  out.push(
    '',
    `**Aim ${verdict.met ? 'met' : 'not met'}.** Part by part, best evolved against best manual:`,
    '',
    `- long bucket at most half: ${yes(verdict.long)}${m && e ? ` (${signed(longDelta(e))} against ${signed(longDelta(m))}, ${(longDelta(e) / longDelta(m)).toFixed(2)}×)` : ''};`,
    `- short bucket no worse: ${yes(verdict.short)}${m && e ? ` (${signed(e.deltas[0])} against ${signed(m.deltas[0])})` : ''};`,
    `- retrieval loss at most half: ${yes(verdict.retrieval)}${m && e ? ` (${points(e.retrievalLoss)} against ${points(m.retrievalLoss)}; the original retrieves ${(100 * mean(e.summary.retrieval.map((x) => x.baseline_accuracy))).toFixed(1)} % of key letters against 3.8 % chance; a loss under one point is within the noise of the probes, and a negative one is a gain)` : ''}.`,
  );
  out.push('', 'Every candidate that fits, best long bucket first:', '', '| generation | recipe | KV cache | GB/GPU | ' + bucketHeads.join(' | ') + ' | retrieval lost |', '|---:|---|---|---:|' + bucketHeads.map(() => '---:').join('|') + '|---:|');
  for (const r of rows.filter((x) => x.fits).sort(byLong)) out.push(`| ${r.generation} | \`${r.name}\` | ${r.kv} | ${r.gbPerGpu.toFixed(1)} | ${r.deltas.map((d) => signed(d)).join(' | ')} | ${points(r.retrievalLoss)} |`);
  return out.join('\n');
}
