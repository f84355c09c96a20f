// Runs the CLI on bad input the way the README's contract is checked: a child process with a fresh
// state dir that must stay absent, and service addresses that lead to a tripwire, a TCP listener that
// counts connections, so a test can prove a command refused its input before connecting anywhere.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/evoquant.mjs', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Runs `jobs` at most `width` at a time, results in order. */
export async function inBatches<T>(jobs: Array<() => Promise<T>>, width = 2): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return out;
}

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
  const problems: string[] = [];
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  if (r.code !== 2) problems.push(`exit ${r.code}, not 2`);
  if (lines.length !== 1) problems.push(`${lines.length} lines on stderr, not 1`);
  if (!r.stderr.startsWith('evoquant: ')) problems.push('stderr does not start with "evoquant: "');
  if (/\n\s+at /.test(r.stderr)) problems.push('a stack trace');
  if (CONTROL.test(r.stderr)) problems.push('control characters on stderr');
  if (r.stderr.length > 700) problems.push(`a ${r.stderr.length}-character error line`);
  if (r.stdout !== '') problems.push('output on stdout');
  if (existsSync(stateDir)) problems.push(`${path.basename(stateDir)} was created`);
  if (r.ms > maxMs) problems.push(`took ${Math.round(r.ms)} ms`);
  return problems;
}
