// A real OpenAI-compatible chat-completions server on 127.0.0.1 (node:http, port 0) whose answers are
// scripted per request, for testing an LLM client end to end: it records every request it receives
// (headers and JSON body) and answers the n-th with the n-th script entry.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export type Answer = (res: http.ServerResponse, req: SeenRequest) => void;

/** A chat.completion whose first choice says `content`. */
export function completion(content: string, finishReason: 'stop' | 'length' = 'stop'): Answer {
  return (res, req) => {
    const model = (req.body as { model?: unknown } | null)?.model ?? 'scripted';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finishReason }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    );
  };
}

/** A status with a body (an error page, a rate limit). */
export function status(code: number, body: string, headers: Record<string, string> = {}): Answer {
  return (res) => {
    res.writeHead(code, { 'content-type': 'text/plain', ...headers });
    res.end(body);
  };
}

/** Accepts the request and never answers. */
export function hang(): Answer {
  return () => undefined;
}

/** Sends the headers and half a completion, then never finishes the body. */
export function stall(): Answer {
  return (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"id":"chatcmpl-stalled","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"{\\"propos');
  };
}

/** A 200 with these exact bytes as its body. */
export function raw(body: Buffer): Answer {
  return (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  };
}

/** A redirect elsewhere (a key must not follow it). */
export function redirect(location: string, code = 307): Answer {
  return (res) => {
    res.writeHead(code, { location });
    res.end();
  };
}

/** A 200 whose body is `bytes` bytes of a JSON string that never ends, written in 64 KiB chunks. */
export function huge(bytes: number): Answer {
  return (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    res.write('{"choices":[{"message":{"content":"');
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end('"}}]}');
    };
    res.on('error', () => undefined);
    pump();
  };
}

export interface ChatServer {
  /** Base URL up to /v1. */
  baseUrl: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export async function startChatServer(script: readonly Answer[]): Promise<ChatServer> {
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Recorded as text: the test asserts on it.
      }
      const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(seen);
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return status(404, 'not found')(res, seen);
      const answer = script[requests.length - 1];
      if (!answer) return status(500, `unscripted request ${requests.length}`)(res, seen);
      answer(res, seen);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
