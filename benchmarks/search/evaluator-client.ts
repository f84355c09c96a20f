// The evaluation entry (evaluate-recipe.ts --serve) as a child process, one request at a time.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { z } from 'zod';
import { EvaluationRecord, type EvaluatorInfo } from './evaluation.js';
import type { Genes } from './gene-space.js';
import { trackChild } from './interrupt.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const Ready = z.object({ ready: z.literal(true), baselineBitsPerByte: z.number(), capacityGb: z.number(), tokens: z.number(), calibrationTokens: z.number() });

/** The command line the evaluation entry runs with; optuna_tpe.py spawns the same one. */
export function evaluatorCommand(workDir: string): string[] {
  return [process.execPath, '--import', 'tsx', resolve(repoRoot, 'benchmarks/search/evaluate-recipe.ts'), '--work-dir', workDir, '--serve'];
}

export class EvaluatorClient {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    readonly info: EvaluatorInfo,
  ) {}

  static async start(workDir: string): Promise<EvaluatorClient> {
    const [cmd, ...args] = evaluatorCommand(workDir);
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    trackChild(child);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
    const rl: Interface = createInterface({ input: child.stdout });
    const lines = rl[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error(`evaluate-recipe --serve exited before it was ready:\n${stderr}`);
    const { ready: _ready, ...info } = Ready.parse(JSON.parse(first.value));
    return new EvaluatorClient(child, lines, info);
  }

  async evaluate(genes: Genes): Promise<EvaluationRecord> {
    this.child.stdin.write(`${JSON.stringify({ genes })}\n`);
    const line = await this.lines.next();
    if (line.done) throw new Error('evaluate-recipe --serve exited mid-request');
    const raw = JSON.parse(line.value) as unknown;
    const err = z.object({ error: z.string() }).safeParse(raw);
    if (err.success) throw new Error(`evaluate-recipe: ${err.data.error}`);
    return EvaluationRecord.parse(raw);
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    await new Promise<void>((done) => (this.child.exitCode !== null ? done() : this.child.once('exit', () => done())));
  }
}
