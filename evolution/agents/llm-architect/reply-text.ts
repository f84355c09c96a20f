// From the assistant's text to a JSON value: a bare JSON object, or one fenced in ```json, and
// nothing else. The text is data: it is only ever JSON.parse'd (never eval'd, never imported), and
// keys that could reach a prototype are refused before any schema sees the value.

/** Largest assistant reply read (UTF-8 bytes): a proposal document is a few KiB. */
export const MAX_REPLY_BYTES = 64 * 1024;

/** Keys that name or reach an object's prototype: refused anywhere in the reply. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** A whole reply fenced as one block: ```json … ``` (the language tag may be omitted). */
const FENCED = /^```(?:json|JSON)?[ \t]*\r?\n([\s\S]*?)\r?\n?```$/;

export type ReplyJson = { ok: true; value: unknown } | { ok: false; error: string };

class ForbiddenKey extends Error {}

export function replyJson(text: string): ReplyJson {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_REPLY_BYTES) return { ok: false, error: `reply is ${bytes} bytes, over the ${MAX_REPLY_BYTES}-byte limit` };
  const trimmed = text.trim();
  if (trimmed.length === 0) return { ok: false, error: 'reply is empty: send one JSON object' };
  const fenced = FENCED.exec(trimmed);
  const body = (fenced ? fenced[1] : trimmed).trim();
  const notObject = { ok: false, error: 'reply must be one JSON object, bare or fenced in ```json, with no other text' } as const;
  if (!body.startsWith('{')) return notObject;
  try {
    const value: unknown = JSON.parse(body, (key, v: unknown) => {
      if (FORBIDDEN_KEYS.has(key)) throw new ForbiddenKey(`key "${key}" is not allowed`);
      return v;
    });
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? { ok: true, value } : notObject;
  } catch (e) {
    if (e instanceof ForbiddenKey) return { ok: false, error: `reply: ${e.message}` };
    // SyntaxError's message quotes part of the text: one line, no control characters.
    return { ok: false, error: `reply is not valid JSON (${String((e as Error).message).replace(/[\p{Cc}]+/gu, ' ').slice(0, 160)})` };
  }
}
