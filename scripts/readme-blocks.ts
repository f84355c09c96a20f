// Generated blocks in README.md: tables of measured numbers live between named markers, and only
// the command that measures them rewrites them, so they cannot go stale silently.
//
//   <!-- generated: NAME by COMMAND; do not edit -->
//   …body…
//   <!-- end generated: NAME -->
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const README_PATH = fileURLToPath(new URL('../README.md', import.meta.url));

export interface ReadmeBlock {
  /** Identifies the block; one word, [a-z0-9-]. */
  name: string;
  /** The command that measures the numbers and rewrites the block. */
  command: string;
  /** Markdown between the markers, without surrounding blank lines. */
  body: string;
}

const NAME = /^[a-z0-9-]+$/;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function blockPattern(name: string): RegExp {
  if (!NAME.test(name)) throw new Error(`readme block: name ${JSON.stringify(name)} must match ${NAME}`);
  const n = escapeRegExp(name);
  return new RegExp(`<!-- generated: ${n} by [^\\n]*?; do not edit -->\\n([\\s\\S]*?)\\n<!-- end generated: ${n} -->`, 'g');
}

export function renderBlock(block: ReadmeBlock): string {
  if (block.command.includes('-->') || block.command.includes('\n')) throw new Error('readme block: command must be one line without "-->"');
  return `<!-- generated: ${block.name} by ${block.command}; do not edit -->\n${block.body.trim()}\n<!-- end generated: ${block.name} -->`;
}

/** The body of block `name` in `text`; throws unless it occurs exactly once. */
export function readBlock(text: string, name: string): string {
  const matches = [...text.matchAll(blockPattern(name))];
  if (matches.length !== 1) throw new Error(`README.md has ${matches.length} generated blocks named ${name}, expected 1`);
  return matches[0][1];
}

/** `text` with block `name` replaced; throws unless it occurs exactly once (so a typo never appends a second copy). */
export function replaceBlock(text: string, block: ReadmeBlock): string {
  readBlock(text, block.name);
  return text.replace(blockPattern(block.name), () => renderBlock(block));
}

/** Rewrites the named blocks of the README atomically (temp file, then rename). */
export function writeReadmeBlocks(blocks: readonly ReadmeBlock[], path = README_PATH): void {
  const before = readFileSync(path, 'utf8');
  const after = blocks.reduce(replaceBlock, before);
  if (after === before) return;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, after);
  renameSync(tmp, path);
}
