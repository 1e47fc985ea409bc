import { InvalidArgumentError } from 'commander';

/** A commander parser of an integer option in `min..max` (a usage error otherwise). */
export function integer(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    }
    return n;
  };
}
