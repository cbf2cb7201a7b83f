/**
 * Start-document values as short, plain text for table cells and metadata rows.
 */

/** `{"a": 1}` → `{a: 1}`-like JSON, cut to `limit` characters with an ellipsis. */
export function compactValue(value: unknown, limit = 80): string {
  if (value === null || value === undefined) {
    return '';
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

/** True for values shown as an expandable tree rather than one line. */
export function isStructured(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
