// One zod issue as one line naming the field at fault: `config.target.gpus: …`, `recipe.default.bits: …`.
// Keys and messages pass through echo(): an unknown key is user input and may be huge or hold escapes.
import type { z } from 'zod';
import { echo } from './echo.js';

type Issue = z.core.$ZodIssue;

export interface IssueStyle {
  /** The name of the document's root: `config`, `recipe`. */
  root: string;
  /** `[1]` (true) or `.1` (false) for array indices. */
  brackets?: boolean;
}

const KEY_MAX = 40;

/** `config.target.gpus`, `config.seedRecipes[1].name`. */
export function fieldPath(path: readonly PropertyKey[], style: IssueStyle): string {
  let out = style.root;
  for (const key of path) out += typeof key === 'number' ? (style.brackets === false ? `.${key}` : `[${key}]`) : `.${echo(String(key), KEY_MAX)}`;
  return out;
}

/** A union reports "Invalid input"; the branch whose first issue went deepest says what is wrong. */
function deepest(issue: Issue): Issue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  // A branch only wins when it went deeper than the union itself; otherwise the union's own
  // message (often a custom one: "bits must be one of …") says it best.
  let best: Issue = issue;
  let depth = issue.path.length;
  for (const branch of issue.errors) {
    const first = branch[0];
    if (first === undefined) continue;
    const inner = deepest(first);
    // Branch issues carry paths relative to the union itself.
    const candidate = { ...inner, path: [...issue.path, ...inner.path] } as Issue;
    if (candidate.path.length > depth) {
      best = candidate;
      depth = candidate.path.length;
    }
  }
  return best;
}

export function describeIssue(raw: Issue, style: IssueStyle): string {
  const issue = deepest(raw);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    return keys.length === 1
      ? `${fieldPath([...issue.path, keys[0]!], style)}: unknown field`
      : `${fieldPath(issue.path, style)}: unknown fields ${keys.slice(0, 5).map((k) => `"${echo(k, KEY_MAX)}"`).join(', ')}${keys.length > 5 ? ` and ${keys.length - 5} more` : ''}`;
  }
  return `${fieldPath(issue.path, style)}: ${echo(issue.message, 200)}`;
}
