/** Command-line values of the benchmarks. */

/**
 * `value` of option `--name` as a positive integer (or, with `integer: false`, any positive
 * number); throws an Error naming the option otherwise.
 */
export function positiveArg(name: string, value: string, integer = true): number {
  const n = Number(value);
  if (!(integer ? Number.isSafeInteger(n) : Number.isFinite(n)) || n <= 0) {
    throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  }
  return n;
}
