/**
 * Canonical JSON: the byte form the operator signs. Object keys sorted recursively (by UTF-16
 * code units, JavaScript's default sort), no whitespace, strings and numbers as
 * `JSON.stringify` writes them, properties whose value is `undefined` omitted.
 * @module
 */

/**
 * Serializes `value` canonically. Throws `TypeError` for values JSON cannot represent
 * (functions, symbols, bigints, non-finite numbers, `undefined` at the top or in an array).
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot encode ${value} as JSON`);
      return JSON.stringify(value);
    case 'object':
      if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
      return canonicalObject(value as Record<string, unknown>);
    default:
      throw new TypeError(`cannot encode a ${typeof value} as JSON`);
  }
}

function canonicalObject(object: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const key of Object.keys(object).sort()) {
    const item = object[key];
    if (item === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(item)}`);
  }
  return `{${parts.join(',')}}`;
}
