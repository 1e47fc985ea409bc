/**
 * The scenarios by name, with their one-line descriptions and defaults: what the CLI needs to
 * declare `sim` (help, option checks) without loading the simulator.
 * @module
 */
import type { Bandwidth } from './bandwidth.ts';

export const SCENARIOS = [
  'steady',
  'partition',
  'churn',
  'byzantine',
  'priority',
  'scale',
  'large',
  'retention',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenario(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name);
}

/** What each scenario shows, in one line (CLI help, docs). */
export const SCENARIO_DESCRIPTIONS: Record<ScenarioName, string> = {
  steady: 'mixed workload (small pushed consensus, consensus blocks, ingress) on a healthy subnet',
  partition: 'a third of the nodes cut off for a while, then healed: everything arrives after',
  churn: 'a quarter of the nodes crash and restart with empty state, twice: they catch up',
  byzantine:
    'up to a third of the nodes serve wrong bytes, flood fake adverts, or never answer: honest nodes get every honest artifact',
  priority:
    'consensus traffic alone, then the same with bulk ingress saturating bandwidth: consensus latency compared',
  scale: '1000 nodes on the bounded-degree ring (degree 18): relay reaches every node',
  large:
    'one 64 MiB chunked artifact from one node at 100 Mbit/s: swarming against one upload and the star',
  retention:
    'a simulated week (x load) of steady honest load on a channel with default retention while one member floods its share: slots, bytes and wants stay bounded, honest delivery 100%',
};

/** Default subnet size of each scenario. */
export const DEFAULT_NODES: Record<ScenarioName, number> = {
  steady: 13,
  partition: 13,
  churn: 13,
  byzantine: 13,
  priority: 13,
  scale: 1000,
  large: 100,
  retention: 5,
};

/** 1 Gbit/s each way: a data-centre node's share of a WAN link. */
export const DEFAULT_BANDWIDTH: Bandwidth = {
  uploadBytesPerSec: 125_000_000,
  downloadBytesPerSec: 125_000_000,
};
