// Human-readable renderings shared by the CLI commands (status, list, history, updates).
// JSON output never goes through here: it prints the engine's objects as they are.
import type { CandidateSummary, EvolutionStatus } from '../../schema/workflow-contracts.js';
import type { EvolutionStatusReport } from './evolutions.js';
import type { ActivityRow, FailureInfo, WorkflowHistorySummary } from './history.js';

/** Left-aligned columns, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

const num = (v: number | null, digits: number): string => (v === null ? '-' : v.toFixed(digits));

function candidateLine(c: CandidateSummary): string[] {
  return [c.id, c.recipeName, num(c.gbPerGpu, 1), num(c.kl, 4), c.top1 === null ? '-' : `${(c.top1 * 100).toFixed(1)}%`];
}

export function formatEvolutionStatus(status: EvolutionStatus): string[] {
  const counts = Object.entries(status.counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  const lines = [
    `${status.evolutionId}: ${status.phase}, generation ${status.generation}/${status.generations}${status.runs > 0 ? ` (continued as new ${status.runs}×)` : ''}`,
    `  candidates: ${counts || 'none yet'}`,
  ];
  lines.push(`  not servable on the target's stack (rejected by compile): ${status.notServable.children} children, ${status.notServable.seeds} seeds`);
  if (status.best) lines.push(`  best: ${status.best.id} ${status.best.recipeName} — ${num(status.best.gbPerGpu, 1)} GB/GPU, KL ${num(status.best.kl, 4)}`);
  if (status.frontier.length > 0) {
    lines.push('  frontier (GB/GPU vs KL):');
    lines.push(...table(['candidate', 'recipe', 'GB/GPU', 'KL', 'top-1'], status.frontier.map(candidateLine)).map((l) => `    ${l}`));
  }
  // Absent in the status of an evolution that ran before the agents.
  const discoveries = status.discoveries ?? [];
  if (discoveries.length > 0) lines.push(`  discoveries: ${discoveries.join(', ')} (evoquant discoveries --id ${status.evolutionId})`);
  return lines;
}

export function formatStatusReport(report: EvolutionStatusReport): string[] {
  const head = `${report.id}: workflow ${report.workflowStatus.toLowerCase()}, started ${report.startTime}${report.closeTime ? `, closed ${report.closeTime}` : ''}`;
  const lines = [head];
  if (report.status) lines.push(...formatEvolutionStatus(report.status));
  if (report.failure) lines.push(`  ended: ${report.failure}`);
  if (report.note) lines.push(`  ${report.note}`);
  return lines;
}

const seconds = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(1)}s`);

export function failureText(f: FailureInfo | null): string {
  if (f === null) return '';
  const kind = f.kind === 'timeout' ? `${f.type ?? ''} timeout` : (f.type ?? f.kind);
  return `${kind}: ${f.message}`.replace(/\s+/g, ' ');
}

function activityLine(r: ActivityRow): string[] {
  return [
    r.activityType,
    r.candidateId ?? '-',
    r.attempt === null ? '-' : String(r.attempt),
    r.outcome,
    seconds(r.waitMs),
    seconds(r.runMs),
    r.workerIdentity ?? '-',
    [r.lastFailure ? `previous attempt: ${failureText(r.lastFailure)}` : '', r.failure ? `failed: ${failureText(r.failure)}` : ''].filter(Boolean).join('; '),
  ];
}

export function formatWorkflowHistory(summary: WorkflowHistorySummary): string[] {
  const head = `${summary.workflowId} — ${summary.status}${summary.startedAt ? `, started ${summary.startedAt}` : ''}${summary.closedAt ? `, closed ${summary.closedAt}` : ''}`;
  const lines = [head];
  if (summary.failure) lines.push(`  ${failureText(summary.failure)}`);
  if (summary.activities.length === 0) return [...lines, '  (no activities yet)'];
  lines.push(...table(['activity', 'candidate', 'attempt', 'outcome', 'queued', 'ran', 'worker', 'failures'], summary.activities.map(activityLine)).map((l) => `  ${l}`));
  return lines;
}
