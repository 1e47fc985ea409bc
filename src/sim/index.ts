/**
 * The simulator: production broadcast cores on a virtual-time network with seeded latencies,
 * bandwidth (the production send scheduler per link), partitions, crashes and misbehaving
 * nodes; scenarios that measure the protocol on it; and their reports (loaded on demand).
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
// Not report.ts itself: its packages are optional and heavy, and load only when asked for.
export {
  loadReport,
  REPORT_INSTALL_COMMAND,
  REPORT_PACKAGES,
  type ReportModule,
  ReportUnavailableError,
  writeReport,
} from './load-report.ts';
export {
  type LatencyModel,
  PROGRESS_EVENTS,
  type RunOptions,
  type ServeBehavior,
  type SimChunkStore,
  SimNetwork,
  type SimNetworkOptions,
  type SimNode,
  type Traffic,
} from './network.ts';
export { Rng } from './rng.ts';
export {
  DEFAULT_BANDWIDTH,
  DEFAULT_NODES,
  isScenario,
  SCENARIO_DESCRIPTIONS,
  SCENARIOS,
  type ScenarioName,
} from './scenario-names.ts';
export {
  LARGE_BANDWIDTH,
  runScenario,
  type ScenarioOptions,
  type SimProgress,
  type SimResult,
  type SimRun,
} from './scenarios.ts';
export { type LatencySummary, summarize } from './stats.ts';
