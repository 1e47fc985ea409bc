/**
 * The transport side of the transport-link benchmark: two transport nodes linked to each other in
 * this process, and the two measurements taken on them (bulk-lane throughput, high-lane latency
 * idle or behind a full bulk lane).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeId, NodeIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import { type InboundMessage, Lane, type TransportLimits } from '../../src/transport/index.ts';
import {
  fullMesh,
  publish,
  registryDoc,
  startNode,
  type TestNode,
} from '../../test/helpers/subnet.ts';
import {
  LOADED_QUEUE_BYTES,
  MESSAGE_BYTES,
  SEND_WINDOW,
  SMALL_BYTES,
  startRun,
  type ThroughputRun,
} from './measure.ts';

export interface TransportPair {
  a: TestNode;
  b: TestNode;
  peerB: NodeId;
  /** What B does with each application message; replaced per measurement. */
  onB: (m: InboundMessage) => void;
}

export async function startTransportPair(
  ids: NodeIdentity[],
  limits: Partial<TransportLimits> = {},
): Promise<TransportPair> {
  const subnet = 'bench';
  const pair = { onB: (_m: InboundMessage) => {} } as TransportPair;
  const [idA, idB] = [ids[0]!, ids[1]!];
  const a = await startNode(idA, subnet, { logger: silentLogger(), limits });
  const b = await startNode(idB, subnet, {
    logger: silentLogger(),
    limits,
    onMessage: (m) => pair.onB(m),
  });
  publish(
    [a, b],
    registryDoc([
      { subnet, identity: idA, address: a.address },
      { subnet, identity: idB, address: b.address },
    ]),
  );
  await fullMesh([a, b]);
  Object.assign(pair, { a, b, peerB: idB.nodeId });
  return pair;
}

/** Resolves when B's onMessage has received `bytes` message bytes. */
function countUntil(pair: TransportPair, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let received = 0;
    pair.onB = (m) => {
      received += m.body.length;
      if (received >= bytes) {
        pair.onB = () => {};
        resolve();
      }
    };
  });
}

/** A sends `totalBytes` as 1 MiB bulk messages; timed until B has them all. */
export async function transportThroughput(
  pair: TransportPair,
  totalBytes: number,
): Promise<ThroughputRun> {
  const msg = Buffer.alloc(MESSAGE_BYTES, 0xa5);
  const done = countUntil(pair, totalBytes);
  const stop = startRun(totalBytes);
  const inflight: Promise<void>[] = [];
  for (let sent = 0; sent < totalBytes; sent += MESSAGE_BYTES) {
    inflight.push(pair.a.transport.send(pair.peerB, Lane.bulk, msg));
    if (inflight.length >= SEND_WINDOW) await inflight.shift();
  }
  await Promise.all(inflight);
  await done;
  return stop();
}

/**
 * One-way latency of 100-byte high-lane messages, one at a time with a short random gap. With
 * `loaded`, a pump keeps LOADED_QUEUE_BYTES queued on the bulk lane of the same direction.
 */
export async function transportLatency(
  pair: TransportPair,
  samples: number,
  loaded: boolean,
): Promise<{ samples: number[]; bulkMBps: number | undefined }> {
  const { a, peerB } = pair;
  let arrived: ((t: number, id: number) => void) | undefined;
  let bulkReceived = 0;
  pair.onB = (m) => {
    if (m.lane === Lane.high) arrived?.(performance.now(), Buffer.from(m.body).readUInt32BE(0));
    else bulkReceived += m.body.length;
  };

  let running = loaded;
  let bulkSent = 0;
  const bulkMsg = Buffer.alloc(MESSAGE_BYTES, 0x5a);
  const pump = (async () => {
    const inflight: Promise<void>[] = [];
    while (running) {
      while (running && a.transport.queuedBytes(peerB, Lane.bulk) < LOADED_QUEUE_BYTES) {
        inflight.push(a.transport.send(peerB, Lane.bulk, bulkMsg));
        bulkSent += MESSAGE_BYTES;
      }
      await inflight.shift();
    }
    await Promise.all(inflight);
  })();
  let loadStart = 0;
  if (loaded) {
    // Let the link reach its steady state before sampling.
    while (a.transport.queuedBytes(peerB, Lane.bulk) < LOADED_QUEUE_BYTES) await sleep(5);
    await sleep(200);
    loadStart = performance.now();
  }
  const bulkAtStart = bulkReceived;

  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const body = Buffer.alloc(SMALL_BYTES);
    body.writeUInt32BE(i, 0);
    const got = new Promise<number>((resolve) => {
      arrived = (t, id) => {
        if (id === i) resolve(t);
      };
    });
    const t0 = performance.now();
    void a.transport.send(peerB, Lane.high, body);
    out.push((await got) - t0);
    await sleep(1 + Math.random() * 2);
  }
  const bulkMBps = loaded
    ? (bulkReceived - bulkAtStart) / 1e6 / ((performance.now() - loadStart) / 1000)
    : undefined;

  running = false;
  await pump;
  while (bulkReceived < bulkSent) await sleep(5);
  pair.onB = () => {};
  return { samples: out, bulkMBps };
}
