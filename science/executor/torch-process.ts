// One run of the Python torch executor (python/evoquant_torch): a fresh process per request,
// spawned from an argv (no shell) in its own process group. The request goes in on stdin; the
// executor answers with JSON lines on fd 3 (stdout and stderr belong to the libraries, which print
// banners and progress bars there). Every line is validated; progress goes to a callback, the
// result is checked against its request kind, an error message becomes an Error named by its type.
// Cancellation: SIGTERM to the group, SIGKILL after a grace period.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import {
  ExecutorMessage,
  RESULT_SCHEMAS,
  type ExecutorErrorType,
  type ProgressMessage,
  type TorchRequest,
  type TorchResultOf,
} from '../../schema/torch-executor.js';
import {
  CudaError,
  ExecutorCrashError,
  ExecutorInputFileError,
  ExecutorNonFiniteError,
  ExecutorProtocolError,
  InvalidCheckpointError,
  InvalidExecutorRequestError,
  OutOfDeviceMemoryError,
  UnsupportedRecipeError,
} from './errors.js';

export interface TorchProcessOptions {
  /** The interpreter (the pinned env's bin/python, or a test's python3). */
  python: string;
  /** Arguments after the interpreter; default `-m evoquant_torch --message-fd 3`. */
  args?: readonly string[];
  /** The environment of the process (PYTHONPATH, CUDA_VISIBLE_DEVICES, …); default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Between SIGTERM and SIGKILL on cancellation (default 10 s: the executor stops at a layer boundary). */
  graceMs?: number;
  /** Bytes of stderr kept for the message of a crash (default 4 KiB). */
  stderrTailBytes?: number;
}

export interface TorchRunHooks {
  onProgress?: (p: Omit<ProgressMessage, 'type'>) => void;
  signal?: AbortSignal;
}

export const EXECUTOR_ARGS: readonly string[] = ['-m', 'evoquant_torch', '--message-fd', '3'];

/** The Error an executor's `error` message stands for: its name is the message's errorType. */
export function reportedError(type: ExecutorErrorType, message: string): Error {
  const text = `torch executor: ${message}`;
  switch (type) {
    case 'InvalidCheckpoint':
      return new InvalidCheckpointError(text);
    case 'InvalidRequest':
      return new InvalidExecutorRequestError(text);
    case 'UnsupportedRecipe':
      return new UnsupportedRecipeError(text);
    case 'GpuOutOfMemory':
      return new OutOfDeviceMemoryError(text);
    case 'NonFiniteQuantizationError':
      return new ExecutorNonFiniteError(text);
    case 'CudaError':
      return new CudaError(text);
    case 'InputFileError':
      return new ExecutorInputFileError(text);
  }
}

/** The last `max` bytes of a stream, as text. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - this.chunks[0].length >= this.max) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8').trim();
  }
}

/** What a crash says: how it ended and the end of its stderr (a traceback's last lines). */
function crashMessage(how: string, tail: string): string {
  return tail === '' ? `torch executor ${how} (no stderr)` : `torch executor ${how}; stderr tail:\n${tail}`;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/**
 * Executor groups still running. They are detached (their own group, so cancellation reaches their
 * children), so a worker that exits must take them down itself: an orphan would hold its GPU and race
 * the retry over the same artifact. (A worker killed outright cannot; its executor then dies at its
 * next message, when fd 3 has no reader.)
 */
const live = new Set<number>();
let exitHookInstalled = false;

function track(pid: number | undefined): void {
  if (pid === undefined) return;
  live.add(pid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const p of live) killGroup(p, 'SIGKILL');
    });
  }
}

/**
 * Runs one request to its result. Rejects with the executor's typed error, ExecutorCrashError
 * (retryable; died without a message, or a result followed by a failing exit), ExecutorProtocolError
 * (a line that is no valid message), or the signal's reason when cancelled.
 */
export function runTorchExecutor<K extends TorchRequest['kind']>(
  options: TorchProcessOptions,
  request: Extract<TorchRequest, { kind: K }>,
  hooks: TorchRunHooks = {},
): Promise<TorchResultOf[K]> {
  const { signal, onProgress } = hooks;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const graceMs = options.graceMs ?? 10_000;
  const stderr = new Tail(options.stderrTailBytes ?? 4096);
  const resultSchema = RESULT_SCHEMAS[request.kind as K];

  return new Promise<TorchResultOf[K]>((resolve, reject) => {
    const child = spawn(options.python, [...(options.args ?? EXECUTOR_ARGS)], {
      // Its own process group: cancellation reaches the workers torch or tokenizers start.
      detached: true,
      shell: false,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    let result: { value: TorchResultOf[K] } | null = null;
    let reported: Error | null = null;
    let protocol: string | null = null;
    let spawnError: Error | null = null;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    track(child.pid);

    const stop = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child.pid, 'SIGTERM');
      killTimer ??= setTimeout(() => killGroup(child.pid, 'SIGKILL'), graceMs);
    };
    const onAbort = (): void => {
      aborted = true;
      stop();
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const violation = (what: string): void => {
      // The first one is reported; the process is stopped, nothing it says later is believed.
      protocol ??= what;
      stop();
    };

    child.stdout!.resume(); // libraries' output: drained, never parsed
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    // A process that dies before reading its request: the crash is reported, not EPIPE.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(`${JSON.stringify(request)}\n`);

    const messages = child.stdio[3] as Readable;
    createInterface({ input: messages, crlfDelay: Infinity }).on('line', (line) => {
      if (line.trim() === '' || protocol !== null) return;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        return violation(`torch executor wrote a line that is not JSON on fd 3: ${line.slice(0, 200)}`);
      }
      const parsed = ExecutorMessage.safeParse(json);
      if (!parsed.success) return violation(`torch executor wrote an invalid message: ${parsed.error.issues[0]?.message ?? 'unknown'} in ${line.slice(0, 200)}`);
      const message = parsed.data;
      if (result !== null || reported !== null) return violation(`torch executor wrote a ${message.type} message after its ${result ? 'result' : 'error'}`);
      if (message.type === 'progress') {
        onProgress?.({ stage: message.stage, done: message.done, total: message.total });
      } else if (message.type === 'error') {
        reported = reportedError(message.errorType, message.message);
      } else {
        const checked = resultSchema.safeParse(message.result);
        if (!checked.success) {
          const issue = checked.error.issues[0];
          return violation(`torch executor's ${request.kind} result is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'unknown'}`);
        }
        result = { value: checked.data as TorchResultOf[K] };
      }
    });

    child.on('error', (err) => {
      spawnError = err;
    });
    // Whatever the executor left running in its group goes with it (pipes held open by a grandchild
    // would otherwise keep 'close' from ever firing).
    child.on('exit', () => {
      killGroup(child.pid, 'SIGKILL');
      if (child.pid !== undefined) live.delete(child.pid);
    });
    child.on('close', (code, sig) => {
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      const how = sig !== null ? `was killed by ${sig}` : `exited with code ${code}`;
      if (spawnError !== null) return reject(new ExecutorCrashError(`cannot run the torch executor ${options.python}: ${spawnError.message}`));
      if (aborted) return reject(abortReason(signal!));
      if (protocol !== null) return reject(new ExecutorProtocolError(protocol));
      if (reported !== null) return reject(reported);
      if (result !== null && code === 0) return resolve(result.value);
      if (result !== null) return reject(new ExecutorCrashError(crashMessage(`${how} after its result`, stderr.text())));
      reject(new ExecutorCrashError(crashMessage(`${how} without a result`, stderr.text())));
    });
  });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  // A bare abort() gives a DOMException: say what was cancelled instead.
  return reason instanceof Error && !(reason instanceof DOMException) ? reason : new Error(`torch executor cancelled${reason instanceof DOMException || reason === undefined ? '' : `: ${String(reason)}`}`);
}
