/**
 * How a value someone sent is echoed back in a message: quoted, and cut to its
 * first 40 characters with its length when longer (a 3,000-character version
 * should not fill the terminal or the answer). Shared by the API and the CLI.
 */
const MAX_SHOWN = 40;

export function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > MAX_SHOWN ? `${JSON.stringify(text.slice(0, MAX_SHOWN))}… (${text.length.toLocaleString('en-US')} characters)` : JSON.stringify(text);
}
