/**
 * The simulator: production broadcast cores on a virtual-time network with seeded latencies,
 * bandwidth (the production send scheduler per link), partitions, crashes and misbehaving
 * nodes; scenarios that measure the protocol on it; and their reports.
 * @module
 */
export {
  type Bandwidth,
  resolveSimTransport,
  type SimTransportLimits,
} from './bandwidth.ts';
export { type ChunkedArtifact, chunkArtifact } from './chunks.ts';
export { EventQueue } from './event-queue.ts';
export { simNodeIds } from './ids.ts';
export {
  type LatencyModel,
  type ServeBehavior,
  type SimChunkStore,
  SimNetwork,
  type SimNetworkOptions,
  type SimNode,
  type Traffic,
} from './network.ts';
export { chartSpecs, renderSvg, svgToPng, writeReport } from './report.ts';
export { Rng } from './rng.ts';
export {
  DEFAULT_BANDWIDTH,
  DEFAULT_NODES,
  isScenario,
  LARGE_BANDWIDTH,
  runScenario,
  SCENARIO_DESCRIPTIONS,
  SCENARIOS,
  type ScenarioName,
  type ScenarioOptions,
  type SimResult,
  type SimRun,
} from './scenarios.ts';
export { type LatencySummary, summarize } from './stats.ts';
