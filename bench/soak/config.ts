/**
 * The soak benchmark's settings (command-line options and the rates of load, churn and faults),
 * its seeded generator, and its clock and log.
 */
import { parseArgs } from 'node:util';

export const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    nodes: { type: 'string', default: '13' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: 'bench/results/soak' },
  },
});
export const MINUTES = Number(opts.minutes);
export const NODES = Number(opts.nodes);
export const SEED = Number(opts.seed);
if (!(MINUTES > 0) || !(NODES >= 5)) throw new Error('--minutes > 0 and --nodes >= 5 needed');

export const SUBNET = 'soak';
export const PROXIED = 3;
/** The last nodes are churned; the rest run the whole time (their memory is the clean series). */
export const CHURNED = Math.max(2, Math.floor(NODES / 4));
export const VOTE_EVERY_MS = 250;
export const INGRESS_EVERY_MS = 1000;
export const CHURN_EVERY_MS = 45_000;
export const FAULT_EVERY_MS = 30_000;
export const SAMPLE_EVERY_MS = 10_000;
export const LOST_AFTER_MS = 120_000;

/** mulberry32: a small seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(SEED);
export const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
export const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

export function bytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = (random() * 4294967296) >>> 0;
    b[i] = v;
    b[i + 1] = v >>> 8;
    b[i + 2] = v >>> 16;
    b[i + 3] = v >>> 24;
  }
  return b;
}

export const t0 = Date.now();
export const now = () => Date.now() - t0;
export const log = (msg: string) =>
  console.log(`[${(now() / 1000).toFixed(0).padStart(5)} s] ${msg}`);
