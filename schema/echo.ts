// How a value the user gave is quoted back in an error: control characters (ANSI escapes, newlines,
// bidi overrides) removed, so a hostile file cannot repaint the terminal or split the one-line
// contract, and long values cut in the middle, so a 100 KB input is not printed back.

/** ESC-introduced sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ESC \`) and two-byte escapes. */
const ESCAPE_SEQUENCES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-_]?/g;
/** Whitespace controls become a space; the rest (C0, DEL, C1, line separators, bidi controls) go. */
const WHITESPACE_CONTROLS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;
const OTHER_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export const ECHO_MAX = 80;

export function stripControl(text: string): string {
  return text.replace(ESCAPE_SEQUENCES, '').replace(WHITESPACE_CONTROLS, ' ').replace(OTHER_CONTROLS, '');
}

/** Cuts `text` to at most `max` code points, keeping both ends (a path keeps its file name). */
export function truncateMiddle(text: string, max: number = ECHO_MAX): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  const head = Math.ceil((max - 1) / 2);
  const tail = max - 1 - head;
  return `${chars.slice(0, head).join('')}…${tail > 0 ? chars.slice(-tail).join('') : ''}`;
}

/** A user value made safe to print: no control characters, at most `max` characters. */
export function echo(value: unknown, max: number = ECHO_MAX): string {
  return truncateMiddle(stripControl(String(value)), max);
}

/** Longest unbroken run of characters a message keeps whole (a deep path fits; a pasted blob does not). */
const WORD_MAX = 160;
const LINE_MAX = 600;
const LONG_WORD = new RegExp(`\\S{${WORD_MAX + 1},}`, 'g');

/**
 * A whole message made printable as one line: its first line, control characters stripped, any run
 * of more than WORD_MAX non-blank characters cut in the middle, the whole at most LINE_MAX. For
 * messages that carry input of their own (a library's error about a user value).
 */
export function echoLine(message: string): string {
  const first = message.split(/\r?\n/, 1)[0] ?? '';
  const clean = stripControl(first).replace(LONG_WORD, (word) => truncateMiddle(word, WORD_MAX));
  return truncateMiddle(clean, LINE_MAX).trimEnd();
}
