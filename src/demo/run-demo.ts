/**
 * The demo's orchestrator: a local subnet of N nodes on 127.0.0.1, each in its own worker
 * thread (or, with `nodeProcesses`, its own child process, optionally placed elsewhere with
 * `placements`: under a command such as `ip netns exec`, on another address), with identities
 * and a signed registry file on disk in a temporary directory, then a workload where every node
 * broadcasts its share of the run's artifacts (consensus and ingress channels) and receives
 * everybody else's.
 *
 * Steps: generate the operator key and N identities (written with writeIdentity), write an
 * empty signed registry (version 0), start the workers (each opens the registry file and
 * listens on a port the OS picks), write the registry listing all N nodes at their real ports
 * (the workers adopt it live), wait for the full mesh, start every workload at once (one common
 * start time), wait until every node has every artifact, let trailing adverts settle, collect
 * every node's report (its metrics read then), measure the raw ceiling if the run has large
 * artifacts, stop everything, and remove the directory (unless `keep`).
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateIdentity, writeIdentity } from '../identity/index.ts';
import {
  addNode,
  generateOperatorKeyPair,
  initRegistry,
  type OperatorKeyPair,
  type RegistryDocument,
  signRegistry,
  writeOperatorKeyPair,
  writeRegistryFile,
} from '../registry/index.ts';
import { deferred } from './deferred.ts';
import { NodeHandle } from './node-handle.ts';
import type { NodeIsolation, NodePlacement } from './node-host.ts';
import { DEMO_SUBNET, type DemoWorkload, LARGE_ARTIFACT_BYTES } from './protocol.ts';
import { rawTlsCeilingMs, rawTlsStarMs } from './raw-ceiling.ts';
import { type DemoResult, summarize } from './summary.ts';
import { now, planWorkload } from './workload.ts';

/** Name of the registry file in the demo directory. */
export const REGISTRY_FILE = 'registry.json';

/** What to run. */
export interface DemoOptions {
  /** Number of nodes (at least 2). */
  readonly nodes: number;
  readonly workload: DemoWorkload;
  /** The whole run (setup, workload) must finish within this many ms. */
  readonly timeoutMs: number;
  /** Keep the demo directory (identities, registry) instead of removing it. */
  readonly keep?: boolean;
  /**
   * Run each node as a child process of its own instead of a worker thread of this process
   * (default false): `peakRssMb` is then the largest node process's resident memory.
   */
  readonly nodeProcesses?: boolean;
  /**
   * Where each node runs, one per node (default: every node on 127.0.0.1, no command): its
   * listen address, which the registry lists, and the command its process runs under (only with
   * `nodeProcesses`), e.g. `ip netns exec <ns>` with the namespace's address. The raw ceiling
   * then runs the same way: node 0's placement sends, the others' receive, each a process.
   */
  readonly placements?: readonly NodePlacement[];
  /** Called every {@link PROGRESS_INTERVAL_MS} while running. */
  readonly onProgress?: (progress: DemoProgress) => void;
  /** Called as the run enters each phase, with the nodes started so far. */
  readonly onPhase?: (phase: DemoPhase, nodes: readonly DemoNode[]) => void;
}

/** One node of a run, as {@link DemoOptions.onPhase} sees it. */
export interface DemoNode {
  readonly index: number;
  /** Its process id with `nodeProcesses`; undefined for a worker thread. */
  readonly pid: number | undefined;
}

/**
 * Phase names, in order; `ceiling` (the raw ceiling is measured, the nodes idle) only in a run
 * with large artifacts that got that far.
 */
export type DemoPhase = 'setup' | 'starting' | 'connecting' | 'running' | 'ceiling' | 'stopping';

/** Where a run is. */
export interface DemoProgress {
  phase: DemoPhase;
  nodes: number;
  /** Nodes whose transport listens. */
  nodesListening: number;
  /** Links up, from the nodes' latest progress messages. */
  linksUp: number;
  expectedLinks: number;
  /** Distinct (artifact, receiver) deliveries so far. */
  deliveries: number;
  /** Deliveries of a complete run: artifacts x (nodes - 1). */
  expectedDeliveries: number;
  /** Bytes of the artifacts delivered, all nodes. */
  receivedBytes: number;
  /** Bytes all nodes receive in a complete run: payload x (nodes - 1). */
  expectedBytes: number;
  /** Chunks of large artifacts verified, and in all, at every node together. */
  chunksDone: number;
  chunks: number;
}

/** How often {@link DemoOptions.onProgress} is called, ms. */
export const PROGRESS_INTERVAL_MS = 200;

/** Time between the start signal and the common start of every node's schedule, ms. */
const GO_LEAD_MS = 50;

/**
 * Wait after the last delivery before the nodes read their metrics, ms: relayed adverts of the
 * last artifacts are still being written then, and belong to the run's wire bytes.
 */
export const SETTLE_MS = 200;

const PHASE_DOING: Record<DemoPhase, string> = {
  setup: 'generating identities',
  starting: 'starting the nodes',
  connecting: 'waiting for the full mesh',
  running: 'running the workload',
  ceiling: 'measuring the raw ceiling',
  stopping: 'stopping',
};

/** Why a run ended early: a timeout or a node that failed. */
class DemoStop extends Error {}

/** The signed registry document listing `members` in the demo subnet. */
function registryOf(
  members: { address: string; certificatePem: string }[],
  operator: OperatorKeyPair,
): RegistryDocument {
  let doc = initRegistry();
  for (const m of members) doc = addNode(doc, { subnet: DEMO_SUBNET, ...m });
  return signRegistry(doc, operator.privateKeyPem);
}

/**
 * Runs the demo and resolves with its result. A timeout or a failing node does not reject: the
 * result then has `complete: false` and `error`, with whatever the nodes reported. Rejects
 * only for unexpected errors (e.g. the temporary directory cannot be written). Every worker is
 * stopped and the directory removed (unless `keep`) before it settles.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { nodes, workload, timeoutMs, placements } = options;
  const isolation: NodeIsolation = options.nodeProcesses ? 'process' : 'thread';
  if (placements !== undefined && placements.length !== nodes) {
    throw new RangeError(`placements: ${placements.length} for ${nodes} nodes`);
  }
  if (isolation === 'thread' && placements?.some((p) => (p.commandPrefix?.length ?? 0) > 0)) {
    throw new TypeError('placements: a command prefix needs nodeProcesses');
  }
  const hostOf = (i: number) => placements?.[i]?.listenHost ?? '127.0.0.1';
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'subnet-p2p-demo-'));
  const handles: NodeHandle[] = [];
  let phase: DemoPhase = 'setup';
  const enter = (next: DemoPhase) => {
    phase = next;
    options.onPhase?.(
      next,
      handles.map((h) => ({ index: h.index, pid: h.pid })),
    );
  };
  let nodesListening = 0;
  const stop = deferred<never>();
  stop.promise.catch(() => undefined);
  // Aborts what runs in the background of a step (the raw ceiling's processes) when it fails.
  const stopped = new AbortController();
  const fail = (message: string) => {
    stop.reject(new DemoStop(message));
    stopped.abort();
  };
  const deadline = setTimeout(
    () => fail(`timed out after ${timeoutMs} ms while ${PHASE_DOING[phase]}`),
    timeoutMs,
  );
  const step = <T>(p: Promise<T>): Promise<T> => Promise.race([p, stop.promise]);

  const plan = planWorkload(nodes, workload);
  const expectedBytes = (nodes - 1) * plan.payloadBytes;
  const expectedDeliveries = (nodes - 1) * plan.artifacts.length;
  const progress = setInterval(() => {
    options.onProgress?.({
      phase,
      nodes,
      nodesListening,
      linksUp: Math.floor(handles.reduce((n, h) => n + h.peersUp, 0) / 2),
      expectedLinks: (nodes * (nodes - 1)) / 2,
      deliveries: handles.reduce((n, h) => n + h.deliveries, 0),
      expectedDeliveries,
      receivedBytes: handles.reduce((n, h) => n + h.receivedBytes, 0),
      expectedBytes,
      chunksDone: handles.reduce((n, h) => n + h.chunksDone, 0),
      chunks: handles.reduce((n, h) => n + h.chunks, 0),
    });
  }, PROGRESS_INTERVAL_MS);
  let peakRss = process.memoryUsage.rss();
  const rssSampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 100);
  let rawCeilingMs: number | null = null;
  let ceiling: Promise<number> | undefined;
  const large = plan.artifacts.filter(
    (a) => a.channel === 'ingress' && a.size > LARGE_ARTIFACT_BYTES,
  );

  let setupMs = 0;
  let runStart: number | undefined;
  let durationMs = 0;
  let error: string | undefined;
  try {
    enter('setup');
    const operator = generateOperatorKeyPair();
    await writeOperatorKeyPair(dir, operator);
    const registryPath = join(dir, REGISTRY_FILE);
    await writeRegistryFile(registryPath, registryOf([], operator));
    const identities = await step(Promise.all(Array.from({ length: nodes }, generateIdentity)));
    const identityDirs = identities.map((_, i) =>
      join(dir, `node-${String(i + 1).padStart(2, '0')}`),
    );
    await step(Promise.all(identities.map((id, i) => writeIdentity(identityDirs[i]!, id))));

    enter('starting');
    for (let index = 0; index < nodes; index++) {
      const config = {
        index,
        nodes,
        identityDir: identityDirs[index]!,
        chunkDir: join(identityDirs[index]!, 'chunks'),
        registryPath,
        operatorPublicKeyPem: operator.publicKeyPem,
        workload,
        ...(placements?.[index]?.listenHost === undefined ? {} : { listenHost: hostOf(index) }),
      };
      const handle = new NodeHandle(config, fail, isolation, placements?.[index]?.commandPrefix);
      void handle.listening.then(() => {
        nodesListening += 1;
      });
      handles.push(handle);
    }
    const listening = await step(Promise.all(handles.map((h) => h.listening)));
    listening.forEach((l, i) => {
      if (l.nodeId !== identities[i]!.nodeId) fail(`node ${i} loaded the wrong identity`);
    });
    const members = listening.map((l, i) => ({
      address: `${hostOf(i)}:${l.port}`,
      certificatePem: identities[i]!.certificatePem,
    }));
    await writeRegistryFile(registryPath, registryOf(members, operator));

    enter('connecting');
    for (const h of handles) h.registryWritten();
    await step(Promise.all(handles.map((h) => h.meshed)));
    setupMs = performance.now() - started;

    enter('running');
    const startAt = now() + GO_LEAD_MS;
    runStart = startAt;
    for (const h of handles) h.go(startAt);
    await step(Promise.all(handles.map((h) => h.received)));
    durationMs = Math.max(0, ...handles.map((h) => (h.receivedAt ?? now()) - startAt));
    await step(new Promise((resolve) => setTimeout(resolve, SETTLE_MS)));
    for (const h of handles) h.requestReport();
    await step(Promise.all(handles.map((h) => h.reported)));
    if (large.length > 0) {
      enter('ceiling');
      const bytes = large.reduce((n, a) => n + a.size, 0);
      ceiling =
        placements === undefined
          ? rawTlsCeilingMs(identities[0]!, nodes - 1, bytes)
          : rawTlsStarMs(
              identities[0]!,
              bytes,
              placements[0]!,
              placements.slice(1),
              stopped.signal,
            );
      ceiling.catch((err: unknown) =>
        fail(`raw ceiling failed: ${err instanceof Error ? err.message : String(err)}`),
      );
      rawCeilingMs = await step(ceiling);
    }
  } catch (err) {
    if (!(err instanceof DemoStop)) throw err;
    error = err.message;
    if (runStart === undefined) setupMs = performance.now() - started;
    else if (durationMs === 0) durationMs = Math.max(0, now() - runStart);
  } finally {
    clearTimeout(deadline);
    try {
      enter('stopping');
    } finally {
      // Every thread or process is gone when this settles, whatever the onPhase hook did.
      stopped.abort();
      await Promise.all([...handles.map((h) => h.stop()), ceiling?.catch(() => undefined)]);
      clearInterval(progress);
      clearInterval(rssSampler);
      if (!options.keep) await rm(dir, { recursive: true, force: true });
    }
  }
  const reports = handles.flatMap((h) => (h.report ? [h.report] : []));
  const ownBytes = reports.reduce((n, r) => n + r.largeOwnBytes, 0);
  const indexOf = new Map(reports.map((r) => [r.nodeId, r.index]));
  const largeBytesFromNode: Record<string, number> = {};
  for (const r of reports) {
    for (const [peer, b] of Object.entries(r.largeBytesFrom)) {
      const k = String(indexOf.get(peer) ?? peer);
      largeBytesFromNode[k] = (largeBytesFromNode[k] ?? 0) + b;
    }
  }
  const extra = {
    originUploadRatio:
      ownBytes > 0
        ? Math.round((reports.reduce((n, r) => n + r.largeOwnUploadBytes, 0) / ownBytes) * 1000) /
          1000
        : null,
    nodeIsolation: isolation,
    // Threads: the one process, every node in it. Processes: the largest node process.
    peakRssMb:
      isolation === 'thread'
        ? Math.round(peakRss / 1e5) / 10
        : Math.max(0, ...reports.map((r) => r.peakRssMb)),
    peakParentRssMb: Math.round(peakRss / 1e5) / 10,
    peakNodeMemoryMb: Math.max(0, ...reports.map((r) => r.peakNodeMemoryMb)),
    rawCeilingMs: rawCeilingMs === null ? null : Math.round(rawCeilingMs),
    largeBytesFromNode,
  };
  const summary = summarize(reports, {
    plan,
    ...(runStart === undefined ? {} : { startAt: runStart }),
    setupMs,
    durationMs,
    ...(error === undefined ? {} : { error }),
    ...(options.keep ? { directory: dir } : {}),
  });
  return { ...summary, ...extra };
}
