// Every command prints either human-readable text or, with --json, one JSON document.
import { stripControl, truncateMiddle } from '../../schema/echo.js';

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

/** Longest unbroken run of characters an error line keeps whole (a deep path fits; a pasted blob does not). */
const WORD_MAX = 160;
const LINE_MAX = 600;

/**
 * An error message as the one line the CLI prints: its first line, control characters stripped,
 * any run of WORD_MAX+ non-blank characters cut in the middle, the whole at most LINE_MAX. The net
 * under every message, including those of libraries that echo input without echo().
 */
export function oneLine(message: string): string {
  const first = message.split(/\r?\n/, 1)[0] ?? '';
  const clean = stripControl(first).replace(new RegExp(`\\S{${WORD_MAX + 1},}`, 'g'), (word) => truncateMiddle(word, WORD_MAX));
  return truncateMiddle(clean, LINE_MAX).trimEnd();
}
