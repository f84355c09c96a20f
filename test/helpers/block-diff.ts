// How a README block as committed differs from a fresh measurement, compactly: per table row
// the cells that moved (README → measured), then the other lines that changed, so a user on
// another CPU sees at once which rows and numbers moved.

const SEPARATOR = /^\|[\s:|-]+\|$/;
const cellsOf = (line: string): string[] => line.split('|').slice(1, -1).map((c) => c.trim());

interface Parsed {
  header: string[];
  rows: Map<string, string[]>;
  other: string[];
}

/** The first markdown table of `text` (header, rows by first cell) and every line outside it. */
function parse(text: string): Parsed {
  const lines = text.split('\n');
  const sep = lines.findIndex((l, i) => i > 0 && SEPARATOR.test(l) && lines[i - 1].startsWith('|'));
  if (sep < 0) return { header: [], rows: new Map(), other: lines };
  let end = sep + 1;
  while (end < lines.length && lines[end].startsWith('|')) end++;
  const rows = new Map(lines.slice(sep + 1, end).map((l) => [cellsOf(l)[0], cellsOf(l)] as const));
  return { header: cellsOf(lines[sep - 1]), rows, other: [...lines.slice(0, sep - 1), ...lines.slice(end)] };
}

export function blockDiff(readme: string, measured: string): string {
  const a = parse(readme);
  const b = parse(measured);
  const out: string[] = [];
  if (a.header.join('|') !== b.header.join('|')) out.push(`table header: ${a.header.join(', ')} → ${b.header.join(', ')}`);
  for (const name of new Set([...a.rows.keys(), ...b.rows.keys()])) {
    const ra = a.rows.get(name);
    const rb = b.rows.get(name);
    if (!ra) out.push(`${name}: only measured`);
    else if (!rb) out.push(`${name}: only in README`);
    else {
      const moved = rb.map((cell, i) => (cell === ra[i] ? null : `${b.header[i] ?? `column ${i + 1}`} ${ra[i] ?? '(none)'} → ${cell}`)).filter((c) => c !== null);
      if (ra.length > rb.length) moved.push(`${ra.length - rb.length} extra cells in README`);
      if (moved.length > 0) out.push(`${name}: ${moved.join(', ')}`);
    }
  }
  const inB = new Set(b.other);
  const inA = new Set(a.other);
  out.push(...a.other.filter((l) => !inB.has(l)).map((l) => `- ${l}`), ...b.other.filter((l) => !inA.has(l)).map((l) => `+ ${l}`));
  return out.length > 0 ? out.join('\n') : 'no difference';
}
