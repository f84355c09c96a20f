// The README's knowledge-graph block: the seed graph's counts and, for every executable innovation,
// compile's servability verdict per serving stack on the proxy and on Qwen3-235B-A22B 2×A100 TP2.
// Rewritten only by INNOVATIONS_COMMAND; test/ekg-innovations.test.ts checks it is current.
import { SERVING_STACKS } from '../../../schema/serving-stack.js';
import type { InnovationSeed } from '../../../schema/innovation.js';
import { servabilityTable, SERVABILITY_TARGETS, type ServabilityVerdict } from './servability.js';

export const INNOVATIONS_BLOCK = 'innovations';
export const INNOVATIONS_COMMAND = 'node --import tsx evolution/knowledge/innovations/report.ts --write-readme';

const count = <T>(xs: readonly T[], p: (x: T) => boolean): number => xs.filter(p).length;

/** `✓` when servable, else the rules broken; one entry per target unless all targets agree. */
function cell(rows: readonly ServabilityVerdict[]): string {
  const text = (r: ServabilityVerdict): string => (r.servable ? '✓' : r.rules.map((x) => `\`${x}\``).join(' '));
  const texts = rows.map(text);
  if (texts.every((x) => x === texts[0])) return texts[0] ?? '';
  return rows.map((r, i) => `${SERVABILITY_TARGETS.find((t) => t.id === r.target)?.id ?? r.target}: ${texts[i]}`).join('; ');
}

export function innovationsReadme(seed: InnovationSeed, table: readonly ServabilityVerdict[] = servabilityTable(seed.innovations)): string {
  const ns = seed.innovations;
  const executable = ns.filter((n) => n.genes !== null);
  const derivations = ns.reduce((s, n) => s + n.derivedFrom.length, 0);
  const requires = ns.reduce((s, n) => s + n.requires.length, 0) + seed.platforms.reduce((s, p) => s + p.requires.length, 0);
  const lines = [
    `${ns.length} innovations (${ns[0] ? Math.min(...ns.map((n) => n.year)) : ''}–${ns[0] ? Math.max(...ns.map((n) => n.year)) : ''}), ` +
      `${executable.length} executable (${count(executable, (n) => n.fidelity === 'exact')} exact, ${count(executable, (n) => n.fidelity === 'approximate')} approximate), ` +
      `${count(ns, (n) => n.source.arxiv !== null)} with an arXiv id; ${derivations} derived-from edges over ${seed.patterns.length} patterns; ` +
      `${seed.platforms.length} platform nodes (${count(seed.platforms, (p) => p.kind === 'hardware')} GPU generations, ${count(seed.platforms, (p) => p.kind === 'kernel')} kernels, ` +
      `${count(seed.platforms, (p) => p.kind === 'serving-stack')} serving stacks) and ${requires} requires edges.`,
    '',
    `Servability of each executable innovation's recipe, as compile judges it on ${SERVABILITY_TARGETS.map((t) => `${t.label} (\`${t.id}\`)`).join(' and ')}: ✓, or the stack rules (and GPU limits) it breaks.`,
    '',
    `| innovation | year | genes | ${SERVING_STACKS.join(' | ')} |`,
    `| --- | --- | --- | ${SERVING_STACKS.map(() => '---').join(' | ')} |`,
  ];
  for (const n of executable) {
    const cells = SERVING_STACKS.map((stack) => cell(table.filter((r) => r.innovation === n.id && r.stack === stack)));
    lines.push(`| ${n.name} | ${n.year} | ${n.fidelity} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
