// The evoquant CLI as child processes, the way a person drives the engine: one-shot commands that
// return their output, and long-running workers that are stopped by their own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { trackChild } from './interrupt.js';

export const repoRoot = resolve(import.meta.dirname, '../..');
const BIN = resolve(repoRoot, 'bin/evoquant.mjs');

/** A user relying on the state dir alone: every variable that would override it is emptied. */
export function stateDirEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    EVOQUANT_HOME: dir,
    TEMPORAL_ADDRESS: '',
    TEMPORAL_NAMESPACE: '',
    DATABASE_URL: '',
    EVOQUANT_TEMPORAL_TLS_CA: '',
    EVOQUANT_TEMPORAL_TLS_CERT: '',
    EVOQUANT_TEMPORAL_TLS_KEY: '',
    EVOQUANT_TEMPORAL_TLS_SERVER_NAME: '',
  };
}

export async function evoquant(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 600_000): Promise<string> {
  const child = trackChild(spawn(process.execPath, [BIN, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
  const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`evoquant ${args.join(' ')} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
  return out;
}

/** `evoquant worker …` running until stop(); resolves once it printed its ready line. */
export class CliWorker {
  private log = '';
  private constructor(private readonly child: ChildProcess, readonly name: string) {
    child.stdout?.on('data', (b: Buffer) => (this.log = (this.log + b.toString()).slice(-20_000)));
    child.stderr?.on('data', (b: Buffer) => (this.log = (this.log + b.toString()).slice(-20_000)));
  }

  static async start(args: string[], env: NodeJS.ProcessEnv, readyWithinMs = 300_000): Promise<CliWorker> {
    const child = trackChild(spawn(process.execPath, [BIN, 'worker', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    const w = new CliWorker(child, args.join(' '));
    const deadline = Date.now() + readyWithinMs;
    while (!/^worker ready:/m.test(w.log)) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await w.stop();
        throw new Error(`evoquant worker ${w.name} did not become ready:\n${w.log.slice(-3000)}`);
      }
      await sleep(100);
    }
    return w;
  }

  get output(): string {
    return this.log;
  }

  /** SIGTERM to this worker's own pid (it drains and exits), SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((done) => this.child.once('exit', () => done()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}
