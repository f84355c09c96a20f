// Deterministic violation order: by code, then role (role-less first), then message.
import type { Violation } from '../../schema/compile-report.js';

export function sortViolations(violations: readonly Violation[]): Violation[] {
  return [...violations].sort(
    (a, b) => cmp(a.code, b.code) || cmp(a.role ?? '', b.role ?? '') || cmp(a.message, b.message),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
