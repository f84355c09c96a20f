// A user-supplied path or value as it may appear in a one-line error: control characters shown as
// escapes, and long values cut, so that an error never spans lines nor repeats a huge input.
const MAX_SHOWN = 160;

export function displayPath(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return clean.length > MAX_SHOWN ? `${clean.slice(0, MAX_SHOWN)}… (${value.length} characters)` : clean;
}
