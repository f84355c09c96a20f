// Reads a file a user named, refusing what is not a regular file or is larger than the caller allows,
// so that a directory, a device or a runaway file is a one-line error rather than EISDIR or a stall.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { echo } from '../../schema/echo.js';
import { FAILURE_TYPES } from '../../schema/failures.js';

/** Why a user-named input file could not be read; callers prefix the field it came from. */
export class InputFileError extends Error {
  override readonly name = FAILURE_TYPES.inputFile;
}

const MiB = 1024 * 1024;

export function formatBytes(n: number): string {
  return n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n} bytes`;
}

/** The file's bytes; at most maxBytes are read even where stat lies (/proc reports size 0). */
export function readInputFile(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below as not a file.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : code === 'ENOTDIR' ? 'has a file where a directory should be' : code === 'ENAMETOOLONG' ? 'is too long a path' : `cannot be opened (${code ?? 'error'})`;
    throw new InputFileError(`${echo(path)} ${why}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new InputFileError(`${echo(path)} is a directory, not a file`);
    if (!st.isFile()) throw new InputFileError(`${echo(path)} is not a regular file`);
    if (st.size > maxBytes) throw new InputFileError(`${echo(path)} is ${formatBytes(st.size)}, more than the ${formatBytes(maxBytes)} allowed`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(MiB, maxBytes + 1 - total));
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        // /proc/self/mem and friends stat as regular files but refuse to be read.
        throw new InputFileError(`${echo(path)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new InputFileError(`${echo(path)} is more than the ${formatBytes(maxBytes)} allowed`);
    }
    // A fresh, unpooled buffer at offset 0, so typed-array views of it are aligned.
    const out = Buffer.alloc(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** The file as UTF-8 text, under the same checks. */
export function readInputText(path: string, maxBytes: number): string {
  return readInputFile(path, maxBytes).toString('utf8');
}
