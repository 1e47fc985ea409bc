/**
 * The comparison as a function: every system in turn on the same workload (same nodes, sizes,
 * artifacts per node, identities), then the figures, ratios and goals, and the machine it ran
 * on. `main.ts` is its command line.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { generateIdentity } from '../../src/identity/index.ts';
import { type CpuProfile, sumStages } from './profile-stages.ts';
import { CONSENSUS_MAX_BYTES, DEFAULT_CHANNEL_NAME, type SystemName } from './protocol.ts';
import { type RoundPlan, runSystem } from './run-system.ts';
import {
  type FloorRow,
  floorRows,
  type GoalResult,
  goals,
  type HeadlineRow,
  headline,
  type RoundResult,
  ratiosAt,
  type SizeRatios,
  summarizeRound,
} from './summary.ts';

export interface CompareOptions {
  nodes: number;
  systems: readonly SystemName[];
  rounds: readonly RoundPlan[];
  roundTimeoutMs: number;
  settleMs: number;
  /** subnet-p2p's relay policy, if not the channel default (`relay`). */
  relay?: 'relay' | 'origin-only';
  /** subnet-p2p's load governor (default on). */
  bulkYield?: boolean;
  /**
   * A folder for V8 CPU profiles of every node process, one per round; each round's self time by
   * stage (profile-stages.ts) then goes into its result's `stages`.
   */
  profileDir?: string;
  /** Unmeasured warm-up rounds before the measured ones (default on; see {@link warmupRounds}). */
  warmup?: boolean;
  /**
   * How many times the warm-up rounds run (default 1). One pass leaves the first measured round
   * paying for part of the JIT compilation: the 1 KiB default-channel round ran at 263 ms per MB
   * after one pass and 128-145 when run again (raw TLS 49 -> 21-28).
   */
  warmupPasses?: number;
  /** Node flags every node process of every system starts with (default none). */
  nodeFlags?: readonly string[];
  log?: (message: string) => void;
}

export interface MachineInfo {
  nproc: number;
  memoryGiB: number;
  cpuModel: string;
  node: string;
  kernel: string;
  date: string;
  /** 1-minute load average when the run started and ended. */
  loadAverage: { start: number; end: number };
}

export interface CompareResult {
  options: {
    nodes: number;
    systems: SystemName[];
    rounds: RoundPlan[];
    roundTimeoutMs: number;
    settleMs: number;
    relay: 'relay' | 'origin-only';
    bulkYield: boolean;
    warmup: boolean;
    warmupPasses: number;
    nodeFlags: string[];
  };
  machine: MachineInfo;
  results: RoundResult[];
  /** Issue 18's headline: each subnet-p2p round against raw TLS. */
  headline: HeadlineRow[];
  /** The design's floor: raw-pull against raw TLS, and subnet-p2p against raw-pull. */
  floor: FloorRow[];
  ratios: SizeRatios[];
  goals: GoalResult[];
  /** How each figure is measured. */
  method: Record<string, string>;
}

function nproc(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return os.availableParallelism();
  }
}

export const METHOD: Record<string, string> = {
  processes:
    'one child process per node (node --import tsx), all on 127.0.0.1; a system runs alone, its nodes started and linked before its rounds, one round per size',
  time: 'from the common start of the sends to the last node holding every other node’s artifacts of the round',
  throughput: 'payload delivered to all receivers ((n-1) x artifacts x size) / time, 1 MB = 10^6 B',
  wireBytes:
    'kernel TCP counters: sum of bytes_sent (ss -tinp) over every established socket of the node processes, difference between a snapshot before the round and one taken settleMs after it completed; TLS/noise records, frame headers, adverts, requests, gossip control and keepalives included; IP/TCP headers excluded',
  amplification: 'wireBytes / ((n-1) x payload bytes)',
  duplicateReceptions:
    'payload copies received beyond the first per (artifact, receiver). subnet-p2p: inline updates sent + downloads succeeded + duplicate downloads (its metrics) - deliveries; gossipsub: messages its validateReceivedMessage judged duplicate; raw-pull: pushes and artifacts received (its counters) - deliveries; raw TLS: frames received more than once (0 by construction)',
  latency:
    'one way, from the origin’s broadcast call (time stamped into the artifact) to delivery to the application at each receiver; nearest-rank percentiles over all deliveries',
  cpu: 'process.cpuUsage() (user + system) of every node process from the round message to its report, summed; cpuMsPerMB divides it by the payload delivered (all receivers)',
  floor:
    'raw-pull is the design with nothing else (push up to 1 KiB; else advert, request, artifact; SHA-256 id checked at the receiver), hand-written on the raw TLS links; per subnet-p2p round (or size), raw-pull / raw TLS and subnet-p2p / raw-pull of CPU ms per MB and delivered MB/s, and designShare = (raw-pull - raw TLS) / (subnet-p2p - raw TLS) CPU ms per MB; completed rounds only',
  memory:
    'process.memoryUsage.rss() sampled every 100 ms during the round: the largest node, and the sum of each node’s peak',
};

/**
 * subnet-p2p's rounds: each round of at most 1 KiB twice, on a channel of library defaults
 * (`default`) and on `consensus`; larger ones on `ingress`, named so the tables say it.
 */
export function subnetP2pRounds(rounds: readonly RoundPlan[]): RoundPlan[] {
  return rounds.flatMap((r) =>
    r.size <= CONSENSUS_MAX_BYTES
      ? [
          { ...r, channel: DEFAULT_CHANNEL_NAME },
          { ...r, channel: 'consensus' },
        ]
      : [{ ...r, channel: 'ingress' }],
  );
}

/** Artifacts per node of each warm-up round: 1 KiB x 50 and 64 KiB x 8. */
const WARMUP_1K = 50;
const WARMUP_64K = 8;

/**
 * Unmeasured rounds each system runs after linking, before the measured ones: whichever round
 * ran first used to cost 1.7-1.9x the same round run second (JIT compilation, and the lazy
 * set-up of each code path), which skewed the first 1 KiB round. The warm-up covers the paths
 * the measured rounds take: for subnet-p2p, 1 KiB on each small-artifact channel (pushed
 * inline) and 64 KiB on `ingress` (advertised and fetched); for the others, 1 KiB and 64 KiB.
 */
export function warmupRounds(system: SystemName): RoundPlan[] {
  const small = { size: 1024, perNode: WARMUP_1K, warmup: true };
  const large = { size: 64 * 1024, perNode: WARMUP_64K, warmup: true };
  return system === 'subnet-p2p' ? subnetP2pRounds([small, large]) : [small, large];
}

/** Self time by stage of one round of `system`, summed over its nodes' profiles, or undefined. */
function roundStages(dir: string, system: SystemName, round: number) {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.startsWith(`${system}-r${round}-n`));
  } catch {
    return undefined;
  }
  if (files.length === 0) return undefined;
  const profiles = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile);
  return sumStages(profiles);
}

/** Runs every system of `options` and combines the figures. */
export async function runCompare(options: CompareOptions): Promise<CompareResult> {
  const log = options.log ?? (() => undefined);
  const loadStart = os.loadavg()[0]!;
  const identities = await Promise.all(Array.from({ length: options.nodes }, generateIdentity));
  const results: RoundResult[] = [];
  const passes = options.warmup === false ? 0 : (options.warmupPasses ?? 1);
  for (const system of options.systems) {
    const measured = system === 'subnet-p2p' ? subnetP2pRounds(options.rounds) : options.rounds;
    const warmups = Array.from({ length: passes }, () => warmupRounds(system)).flat();
    const rounds = [...warmups, ...measured];
    const raws = await runSystem({
      system,
      identities,
      rounds,
      roundTimeoutMs: options.roundTimeoutMs,
      settleMs: options.settleMs,
      ...(options.relay ? { relay: options.relay } : {}),
      ...(options.bulkYield === false ? { bulkYield: false } : {}),
      ...(options.profileDir ? { profileDir: options.profileDir } : {}),
      ...(options.nodeFlags ? { nodeFlags: options.nodeFlags } : {}),
      log,
    });
    raws.forEach((raw, i) => {
      if (rounds[i]!.warmup) return;
      const result = summarizeRound(raw);
      const stages = options.profileDir
        ? roundStages(options.profileDir, system, i + 1)
        : undefined;
      if (stages) result.stages = stages;
      results.push(result);
    });
  }
  // Rows by size, then system, in the order given.
  const sizes = [...new Set(options.rounds.map((r) => r.size))];
  results.sort(
    (a, b) =>
      sizes.indexOf(a.size) - sizes.indexOf(b.size) ||
      options.systems.indexOf(a.system) - options.systems.indexOf(b.system),
  );
  const ratios = sizes.map((s) => ratiosAt(results, s));
  return {
    options: {
      nodes: options.nodes,
      systems: [...options.systems],
      rounds: [...options.rounds],
      roundTimeoutMs: options.roundTimeoutMs,
      settleMs: options.settleMs,
      relay: options.relay ?? 'relay',
      bulkYield: options.bulkYield !== false,
      warmup: options.warmup !== false,
      warmupPasses: passes,
      nodeFlags: [...(options.nodeFlags ?? [])],
    },
    machine: {
      nproc: nproc(),
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      kernel: `${os.type()} ${os.release()}`,
      date: new Date().toISOString(),
      loadAverage: { start: loadStart, end: os.loadavg()[0]! },
    },
    results,
    headline: headline(results),
    floor: floorRows(results),
    ratios,
    goals: goals(results, ratios),
    method: METHOD,
  };
}
