// One chat-completions request to an OpenAI-compatible endpoint, with Node's global fetch: a hard
// timeout over the whole exchange (body included), a cap on the bytes read, no redirects (a key
// must not follow one), and every way it can go wrong returned as a value, never thrown.
import { z } from 'zod';
import type { LlmArchitectConfig } from '../../../schema/agents.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Largest HTTP body read: a 64 KiB reply, JSON-escaped, with the envelope around it. */
export const MAX_HTTP_BODY_BYTES = 256 * 1024;

export type ChatResult =
  | { kind: 'reply'; content: string; finishReason: string | null }
  | { kind: 'failed'; verdict: 'http-error' | 'timeout' | 'transport'; detail: string };

/** The part of a chat completion the architect reads; every other field is dropped. */
const ChatCompletion = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullable().optional() }),
        finish_reason: z.string().max(64).nullable().optional(),
      }),
    )
    .min(1),
});

/** The endpoint without credentials or query, for messages. */
export function endpointOf(baseUrl: string): string {
  const u = new URL(`${baseUrl.replace(/\/+$/, '')}/chat/completions`);
  return `${u.origin}${u.pathname}`;
}

class BodyTooLarge extends Error {}

async function readCapped(response: Response, max: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge(`response body over ${max} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
}

function causeOf(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
  const text = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : String((e as Error).message ?? e);
  return text.replace(/[\p{Cc}]+/gu, ' ').slice(0, 200);
}

export async function chatCompletion(
  fetchImpl: typeof fetch,
  config: LlmArchitectConfig,
  messages: readonly ChatMessage[],
  apiKey: string | undefined,
): Promise<ChatResult> {
  const url = `${config.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const where = endpointOf(config.baseUrl);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, config.timeoutSeconds * 1000);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  try {
    const response = await fetchImpl(url, {
      method: 'POST',
      headers,
      redirect: 'error',
      signal: controller.signal,
      body: JSON.stringify({
        model: config.model,
        messages,
        max_tokens: config.maxTokens,
        temperature: config.temperature,
        n: 1,
        stream: false,
      }),
    });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      const retryAfter = response.headers.get('retry-after');
      const hint = response.status === 429 ? ` (rate limited${retryAfter ? `, retry after ${retryAfter.replace(/[^\w .:,-]/g, '').slice(0, 40)}` : ''})` : '';
      return { kind: 'failed', verdict: 'http-error', detail: `${where} answered HTTP ${response.status}${hint}` };
    }
    const text = await readCapped(response, MAX_HTTP_BODY_BYTES);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { kind: 'failed', verdict: 'transport', detail: `${where} answered a body that is not JSON` };
    }
    const parsed = ChatCompletion.safeParse(json);
    if (!parsed.success) return { kind: 'failed', verdict: 'transport', detail: `${where} answered JSON that is not a chat completion (no choices[0].message)` };
    const choice = parsed.data.choices[0];
    return { kind: 'reply', content: choice.message.content ?? '', finishReason: choice.finish_reason ?? null };
  } catch (e) {
    if (timedOut) return { kind: 'failed', verdict: 'timeout', detail: `${where} did not answer within ${config.timeoutSeconds} s` };
    if (e instanceof BodyTooLarge) return { kind: 'failed', verdict: 'transport', detail: `${where}: ${e.message}` };
    if (e instanceof TypeError && /decode|encoded data/i.test(e.message)) return { kind: 'failed', verdict: 'transport', detail: `${where} answered a body that is not UTF-8` };
    return { kind: 'failed', verdict: 'transport', detail: `cannot reach ${where}: ${causeOf(e)}` };
  } finally {
    clearTimeout(timer);
  }
}
