/**
 * Priority lanes of a link. Lower number = higher priority. The scheduler always serves the
 * highest-priority lane that has data, except that a lane with a minimum share gets its share
 * of the bytes while it is backlogged (see send-scheduler.ts).
 */
export const Lane = {
  /** The transport's own messages (hello, keepalive, goodbye) and tiny urgent traffic. */
  control: 0,
  /** Latency-critical application traffic (consensus). */
  high: 1,
  /** Throughput traffic (ingress, large artifacts). */
  bulk: 2,
} as const;

export type Lane = (typeof Lane)[keyof typeof Lane];

/** All lanes, highest priority first. */
export const LANES: readonly Lane[] = [Lane.control, Lane.high, Lane.bulk];

/** Lane names, indexed by lane number (metric labels, logs). */
export const LANE_NAMES = ['control', 'high', 'bulk'] as const;

export type LaneName = (typeof LANE_NAMES)[number];

/** Whether `n` is a lane number. */
export function isLane(n: number): n is Lane {
  return n === Lane.control || n === Lane.high || n === Lane.bulk;
}

/** Parses a lane name (`control`, `high`, `bulk`). */
export function laneFromName(name: string): Lane | undefined {
  const i = (LANE_NAMES as readonly string[]).indexOf(name);
  return i < 0 ? undefined : (i as Lane);
}
