// Database URLs carry a password. Whatever evoquant prints shows it masked; the full URL is given
// only on request (`evoquant up --show-secrets`).

/** `postgres://user:***@host:port/db`; a URL without a password is returned as is. */
export function maskPassword(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL we can parse: mask anything between the scheme's "//user:" and the last "@".
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
  }
  if (parsed.password === '') return url;
  parsed.password = '***';
  return parsed.toString();
}
