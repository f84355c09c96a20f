// The targets report's figures, pure: for each target, the best manual servable recipe that fits and
// the best discovery, with memory per GPU, weights against bf16, top-1 and Δ bits/byte against bf16
// on the proxy, and the aims checked against them (reported whatever they say).

export interface MeasuredRecipe {
  name: string;
  gbPerGpu: number;
  /** Weight bytes over bf16's (compile's figures on the target). */
  weightFraction: number;
  top1: number;
  bitsPerByte: number;
}

export interface TargetOutcome {
  id: string;
  label: string;
  evolutionId: string;
  bf16: { top1: number; bitsPerByte: number };
  bestManual: MeasuredRecipe | null;
  bestDiscovery: MeasuredRecipe | null;
  discoveries: number;
  evaluated: number;
}

const delta = (r: MeasuredRecipe, bf16: TargetOutcome['bf16']): number => r.bitsPerByte - bf16.bitsPerByte;
const relTop1Loss = (r: MeasuredRecipe, bf16: TargetOutcome['bf16']): number => (bf16.top1 - r.top1) / bf16.top1;

function row(o: TargetOutcome, kind: string, r: MeasuredRecipe | null): string {
  if (!r) return `| ${o.label} | ${kind} | none | | | | | |`;
  return `| ${o.label} | ${kind} | \`${r.name}\` | ${r.gbPerGpu.toFixed(1)} | ${(100 * r.weightFraction).toFixed(1)}% | ${(100 * r.top1).toFixed(2)}% | ${(100 * relTop1Loss(r, o.bf16)).toFixed(2)}% | ${delta(r, o.bf16).toFixed(4)} |`;
}

/** The 1×A100 aim: the discovery's Δ bits/byte at least 30% smaller than the best manual recipe's. */
export function oneGpuAim(o: TargetOutcome): string {
  if (!o.bestManual || !o.bestDiscovery) return `${o.label}: no ${o.bestManual ? 'discovery' : 'manual recipe that fits'} — the aim (Δ bits/byte ≥ 30% smaller than the best manual recipe) is not reached`;
  const shrink = 1 - delta(o.bestDiscovery, o.bf16) / delta(o.bestManual, o.bf16);
  return `${o.label}: the best discovery's Δ bits/byte is ${(100 * shrink).toFixed(1)}% smaller than the best manual recipe's — aim (≥ 30%) ${shrink >= 0.3 ? 'reached' : 'not reached'}`;
}

/** The 2×A100 aim: a discovery losing at most 0.64% relative top-1 at ≤ 20% of bf16 weight memory. */
export function twoGpuAim(o: TargetOutcome, discoveries: readonly MeasuredRecipe[]): string {
  const small = discoveries.filter((d) => d.weightFraction <= 0.2);
  const best = [...small].sort((a, b) => relTop1Loss(a, o.bf16) - relTop1Loss(b, o.bf16))[0];
  if (!best) return `${o.label}: no discovery within 20% of bf16 weight memory — the aim (≤ 0.64% relative top-1 loss there) is not reached`;
  const loss = relTop1Loss(best, o.bf16);
  return `${o.label}: the best discovery within 20% of bf16 weight memory (\`${best.name}\`, ${(100 * best.weightFraction).toFixed(1)}%) loses ${(100 * loss).toFixed(2)}% relative top-1 — aim (≤ 0.64%) ${loss <= 0.0064 ? 'reached' : 'not reached'}`;
}

export function targetsMarkdown(outcomes: ReadonlyArray<{ outcome: TargetOutcome; discoveries: MeasuredRecipe[] }>, setting: string): string {
  const lines = [
    setting,
    '',
    '| target | | recipe | GB/GPU | weights vs bf16 | top-1 | relative top-1 loss | Δ bits/byte vs bf16 |',
    '|---|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const { outcome } of outcomes) lines.push(row(outcome, 'best manual (fits, servable)', outcome.bestManual), row(outcome, `best discovery (of ${outcome.discoveries})`, outcome.bestDiscovery));
  lines.push('');
  for (const { outcome, discoveries } of outcomes) lines.push(`- ${outcome.id.includes('1x') ? oneGpuAim(outcome) : twoGpuAim(outcome, discoveries)} (evolution \`${outcome.evolutionId}\`, ${outcome.evaluated} evaluated).`);
  return lines.join('\n');
}
