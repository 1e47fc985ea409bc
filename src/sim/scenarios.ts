/**
 * The simulator's scenarios: a subnet of production broadcast cores on the simulated network,
 * a workload, a fault, and the figures that tell whether the protocol coped. Each run is a
 * function of its options (the seed included), except the wall-clock time it took.
 *
 * This module holds the options and results and picks the scenario; the scenarios live in
 * load-scenarios.ts (steady, priority, scale), fault-scenarios.ts (partition, churn,
 * byzantine), large-scenario.ts and retention-scenario.ts, over scenario-harness.ts (setup,
 * workload, figures).
 * @module
 */
import type { ChannelConfig, DownloadLimits } from '../broadcast/index.ts';
import type { Bandwidth, SimTransportLimits } from './bandwidth.ts';
import { byzantine, churn, partition } from './fault-scenarios.ts';
import { large } from './large-scenario.ts';
import { priority, scale, steady } from './load-scenarios.ts';
import { type RetentionSample, type RetentionWorkload, retention } from './retention-scenario.ts';
import type { ScenarioName } from './scenario-names.ts';
import type { LatencySummary } from './stats.ts';
import type { Broadcast, DeliveryRecord } from './tracker.ts';

export { LARGE_BANDWIDTH } from './large-scenario.ts';

export interface ScenarioOptions {
  scenario: ScenarioName;
  seed: number;
  /** Subnet size. Default per scenario (13, or 1000 for scale). */
  nodes?: number;
  /**
   * Scales the workload (the number of artifacts and the length of the phases); 1 is the
   * CLI's default. The tests run small, fast versions with less.
   */
  load?: number;
  /** Per-node bandwidth. Default 1 Gbit/s each way. */
  bandwidth?: Bandwidth;
  /** One-way latency of each link, drawn uniformly. Default [10, 150] ms. */
  latencyMs?: readonly [number, number];
  /** Download limits of every node, over the defaults (and the scenario's own). */
  downloads?: Partial<DownloadLimits>;
  /** Transport settings of the bandwidth model (default: production limits). */
  transport?: Partial<SimTransportLimits>;
  /** byzantine: fake adverts each flooder sends each neighbour per second, per channel. Default 200. */
  floodAdvertsPerSec?: number;
  /** large: the artifact's size, bytes. Default 64 MiB. */
  artifactBytes?: number;
  /** large: its chunk size, bytes. Default 1 MiB. */
  chunkBytes?: number;
  /** retention: the workload, over RETENTION_WORKLOAD. */
  retention?: Partial<RetentionWorkload>;
  /** retention: overrides of its channel's config (default: the production retention). */
  channel?: Partial<ChannelConfig>;
  /** Called now and then during the run (every few thousand events); does not change it. */
  onProgress?: (progress: SimProgress) => void;
}

/** Where a run is, for {@link ScenarioOptions.onProgress}. */
export interface SimProgress {
  /** Virtual time, ms. */
  virtualMs: number;
  /** Events simulated so far. */
  events: number;
  /** Expected (artifact, receiver) pairs held so far, and of the artifacts sent so far (unset in retention). */
  deliveries?: number;
  expectedDeliveries?: number;
}

/** What a run measured. `wallMs` is the only field that differs between runs of one seed. */
export interface SimResult {
  scenario: ScenarioName;
  nodes: number;
  seed: number;
  load: number;
  topology: { kind: 'full-mesh' | 'ring'; degree: number };
  bandwidth: Bandwidth;
  latencyModelMs: readonly [number, number];
  /** Every expected (artifact, receiver) pair is held at the end. */
  complete: boolean;
  /** Artifacts broadcast, per channel. */
  artifacts: Record<string, number>;
  /** Their bytes. */
  payloadBytes: number;
  /** Expected (artifact, receiver) pairs held at the end, and how many there are. */
  deliveries: number;
  expectedDeliveries: number;
  /** Wire bytes (frames, headers included, every lane) / ((n - 1) x payload bytes). */
  amplification: number;
  wireBytes: { control: number; high: number; bulk: number; total: number };
  /** Transport messages sent (slot updates, requests, responses, credits). */
  messages: number;
  duplicateDownloads: number;
  /** Time from broadcast to first delivery, per channel, over expected pairs. */
  latencyMs: Record<string, LatencySummary>;
  /** Virtual time until complete (or until the run gave up). */
  virtualMs: number;
  /** Events simulated (the whole run, draining included). */
  events: number;
  /** What this scenario is about. */
  details: Record<string, unknown>;
  wallMs: number;
}

/** A result with the raw data the report's charts are drawn from. */
export interface SimRun {
  result: SimResult;
  /** Each expected pair's first delivery (artifact, node, time). */
  deliveries: readonly DeliveryRecord[];
  /** A series label per delivery for the latency chart (e.g. channel, or channel and phase). */
  series: (r: DeliveryRecord) => string;
  /** Frame bytes per lane per time bin. */
  traffic: { binMs: number; bins: [number, [number, number, number]][] };
  expectedByChannel: Record<string, number>;
  /** retention: what the honest nodes held at each sample (the report charts it). */
  samples?: readonly RetentionSample[];
}

const RUNNERS: Record<ScenarioName, (o: ScenarioOptions, load: number, wall: number) => SimRun> = {
  steady,
  partition,
  churn,
  byzantine,
  priority,
  scale,
  large,
  retention,
};

/** Runs a scenario to completion (or until it gives up) and measures it. */
export function runScenario(opts: ScenarioOptions): SimRun {
  const wall = performance.now();
  const load = opts.load ?? 1;
  return RUNNERS[opts.scenario](opts, load, wall);
}

export type { Broadcast, DeliveryRecord };
