// Content addressing for recipes and candidates: the same recipe always hashes the same, whatever
// the key order of the object it arrived in. This is what makes proposing a candidate idempotent.
import { createHash } from 'node:crypto';
import type { JsonValue } from './db.js';

/** JSON with object keys sorted at every level; arrays keep their order. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as JsonValue)}`).join(',')}}`;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** sha256 of the canonical recipe JSON (64 hex chars). */
export function recipeHash(recipe: JsonValue): string {
  return sha256(canonicalJson(recipe));
}

/** The candidate id: one per (evolution, recipe). 128 bits is ample and keeps logs readable. */
export function candidateIdFor(evolutionId: string, hashOfRecipe: string): string {
  return `cand_${sha256(`${evolutionId}\u0000${hashOfRecipe}`).slice(0, 32)}`;
}
