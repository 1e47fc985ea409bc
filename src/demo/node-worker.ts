/**
 * One demo node, run in its own worker thread (started through worker-bootstrap.mjs): loads its
 * identity from disk, follows the registry file, runs a transport on 127.0.0.1 (port chosen by
 * the OS), and runs the workload when told to. See protocol.ts for the message sequence.
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadIdentity, type NodeId } from '../identity/index.ts';
import { silentLogger } from '../log.ts';
import { FileRegistryClient } from '../registry/index.ts';
import { createTransport, type Transport } from '../transport/index.ts';
import { deferred } from './deferred.ts';
import {
  DEMO_SUBNET,
  type FromWorker,
  type NodeReport,
  type ToWorker,
  type WorkerConfig,
} from './protocol.ts';
import { Receiver, sendWorkload } from './workload.ts';

/** How often progress is posted to the main thread, ms. */
const PROGRESS_INTERVAL_MS = 100;
/** How often the registry file is polled (the main thread also asks for a check), ms. */
const REGISTRY_POLL_MS = 250;

const parent = parentPort;
if (parent === null) throw new Error('node-worker.ts must run in a worker thread');
const config = (workerData as { config: WorkerConfig }).config;

let closed = false;
function post(msg: FromWorker): void {
  if (!closed) parent!.postMessage(msg);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolvers of the steps the main thread triggers. */
const signals = {
  registryWritten: deferred(),
  go: deferred(),
};

let failed = false;
function fail(message: string): void {
  if (failed) return;
  failed = true;
  post({ type: 'failed', message: `node ${config.index}: ${message}` });
}

/** The wire bytes this node's transport handed to TLS, per lane. */
async function wireBytes(transport: Transport): Promise<NodeReport['wireBytes']> {
  const out = { control: 0, high: 0, bulk: 0 };
  const metric = transport.metricsRegistry.getSingleMetric('subnet_p2p_transport_sent_bytes_total');
  if (!metric) return out;
  for (const v of (await metric.get()).values) {
    const lane = String(v.labels.lane);
    if (lane === 'control' || lane === 'high' || lane === 'bulk') out[lane] += v.value;
  }
  return out;
}

interface NodeState {
  transport: Transport;
  registry: FileRegistryClient;
  receiver: Receiver;
  peers: NodeId[];
  sendErrors: number;
  linkDrops: number;
  finished: boolean;
  reported: boolean;
  progress: NodeJS.Timeout;
}

async function report(node: NodeState): Promise<void> {
  if (node.reported) return;
  node.reported = true;
  const { transport, receiver } = node;
  const connected = transport.peers().filter((p) => p.state === 'connected');
  const result: NodeReport = {
    index: config.index,
    nodeId: transport.nodeId,
    connectedPeers: connected.map((p) => p.nodeId),
    delivered: receiver.delivered(),
    payloadBytes: receiver.payloadBytes,
    shortPairs: receiver.shortPairs(node.peers),
    malformed: receiver.malformed,
    sendErrors: node.sendErrors,
    linkDrops: node.linkDrops,
    wireBytes: await wireBytes(transport),
    latenciesMs: receiver.latencies(),
    finished: node.finished,
  };
  post({ type: 'done', report: result });
}

async function start(): Promise<NodeState> {
  const identity = await loadIdentity(config.identityDir);
  const registry = await FileRegistryClient.open(config.registryPath, {
    operatorPublicKey: config.operatorPublicKeyPem,
    pollIntervalMs: REGISTRY_POLL_MS,
    logger: silentLogger(),
  });
  const receiver = new Receiver(config.workload, config.nodes - 1);
  const transport = createTransport({
    identity,
    registry,
    subnet: DEMO_SUBNET,
    listen: { host: '127.0.0.1', port: 0 },
    logger: silentLogger(),
    onMessage: (msg) => receiver.record(msg),
  });
  const node: NodeState = {
    transport,
    registry,
    receiver,
    peers: [],
    sendErrors: 0,
    linkDrops: 0,
    finished: false,
    reported: false,
    progress: setInterval(() => {
      const peersUp = transport.peers().filter((p) => p.state === 'connected').length;
      post({ type: 'progress', peersUp, receivedBytes: receiver.payloadBytes });
    }, PROGRESS_INTERVAL_MS),
  };
  node.progress.unref();
  return node;
}

/** Resolves when `transport` has a link up to each of the other `nodes - 1` members. */
function meshUp(node: NodeState): Promise<void> {
  const up = new Set<NodeId>();
  const { promise, resolve } = deferred();
  let meshed = false;
  node.transport.subscribe((e) => {
    if (e.type === 'peer-up') up.add(e.peer);
    if (e.type === 'peer-down') {
      up.delete(e.peer);
      if (meshed) node.linkDrops += 1;
    }
    if (!meshed && up.size === config.nodes - 1) {
      meshed = true;
      resolve();
    }
  });
  return promise;
}

async function run(node: NodeState): Promise<void> {
  const { transport, registry, receiver } = node;
  const mesh = meshUp(node);
  const { port } = await transport.start();
  post({ type: 'listening', nodeId: transport.nodeId, port });
  await signals.registryWritten.promise;
  await registry.checkNow();
  await mesh;
  node.peers = transport.peers().map((p) => p.nodeId);
  post({ type: 'mesh' });
  await signals.go.promise;
  node.sendErrors = await sendWorkload(
    transport,
    node.peers,
    config.workload,
    config.index,
    (peer, err) => fail(`send to ${peer} failed: ${describe(err)}`),
  );
  await receiver.complete;
  node.finished = node.sendErrors === 0;
  await report(node);
}

async function stop(node: NodeState | undefined): Promise<void> {
  if (node) {
    await report(node).catch(() => undefined);
    clearInterval(node.progress);
    await node.transport.stop();
    await node.registry.close();
  }
  post({ type: 'stopped' });
  closed = true;
  parent!.close();
}

const starting = start();
let stopping: Promise<void> | undefined;
parent.on('message', (msg: ToWorker) => {
  if (msg.type === 'registry-written') signals.registryWritten.resolve();
  else if (msg.type === 'go') signals.go.resolve();
  else if (msg.type === 'stop') {
    stopping ??= starting.then(stop, () => stop(undefined));
  }
});

try {
  await run(await starting);
} catch (err) {
  if (stopping === undefined) fail(describe(err));
}
