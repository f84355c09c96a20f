// Runs the CLI on bad input the way the README's contract is checked: a child process with a fresh
// state dir that must stay absent, and service addresses that lead to a tripwire, a TCP listener that
// counts connections, so a test can prove a command refused its input before connecting anywhere.
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { CliRun } from './cli.js';
import { PROXY_DIR } from './proxy.js';
import { refusalProblems } from './refusal.js';


export interface Tripwire {
  port: number;
  connections(): number;
  close(): Promise<void>;
}

export async function tripwire(): Promise<Tripwire> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The CLI's environment: a state dir that does not exist yet, and both services behind the tripwire. */
export function badInputEnv(stateDir: string, wire: Tripwire): NodeJS.ProcessEnv {
  const { TEMPORAL_ADDRESS: _t, TEMPORAL_NAMESPACE: _n, DATABASE_URL: _d, EVOQUANT_DEBUG: _g, ...rest } = process.env;
  return { ...rest, EVOQUANT_HOME: stateDir, TEMPORAL_ADDRESS: `127.0.0.1:${wire.port}`, DATABASE_URL: `postgres://evoquant:x@127.0.0.1:${wire.port}/evoquant` };
}

/** C0 (except the final newline), DEL and C1 controls: nothing of an input may reach the terminal raw. */
export const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

/** What the README promises for bad input; returns the problems, empty when it holds. */
export function contractBreaks(r: CliRun, stateDir: string, maxMs: number): string[] {
  const problems = refusalProblems(r, maxMs);
  if (CONTROL.test(r.stderr)) problems.push('control characters on stderr');
  if (r.stderr.length > 700) problems.push(`a ${r.stderr.length}-character error line`);
  if (existsSync(stateDir)) problems.push(`${path.basename(stateDir)} was created`);
  return problems;
}

/** A small evolution config that `start` accepts; bad-input tests mutate one field of it. */
export function validEvolutionConfig(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'bad-input',
    target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2 },
    pool: 'cpu',
    proxy: PROXY_DIR,
    generations: 1,
    populationSize: 2,
    seedRecipes: ['w4a16-g128-rtn'],
    ...over,
  };
}
