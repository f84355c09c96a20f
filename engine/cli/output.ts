// Every command prints either human-readable text or, with --json, one JSON document.
import { echoLine } from '../../schema/echo.js';

export interface OutputOptions {
  json?: boolean;
}

export function emit(options: OutputOptions, data: unknown, human: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}

/** Progress goes to stderr so that --json output stays parseable. */
export function progressLine(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
}

export function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}

/** The one line the CLI prints for an error: the net under every message (schema/echo.ts). */
export function oneLine(message: string): string {
  return echoLine(message);
}
