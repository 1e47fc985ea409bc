/**
 * The baseline of the transport-link benchmark: a bare node:tls socket pair with the transport's
 * own TLS settings, and the same measurements taken on it (throughput of large writes, latency of
 * a small write on an idle socket or behind a backlog of earlier writes).
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tls from 'node:tls';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { ALPN } from '../../src/transport/index.ts';
import { MESSAGE_BYTES, SMALL_BYTES, startRun, type ThroughputRun } from './measure.ts';

export interface BarePair {
  client: tls.TLSSocket;
  server: tls.TLSSocket;
  close(): Promise<void>;
}

export async function startBarePair(ids: NodeIdentity[]): Promise<BarePair> {
  // The transport's own TLS options (see Transport#tlsOptions): TLS 1.3, mutual, Ed25519.
  const tlsOptions = (id: NodeIdentity) => ({
    key: id.privateKeyPem,
    cert: id.certificatePem,
    minVersion: 'TLSv1.3' as const,
    maxVersion: 'TLSv1.3' as const,
    ALPNProtocols: [ALPN],
  });
  const srv = tls.createServer({
    ...tlsOptions(ids[1]!),
    requestCert: true,
    rejectUnauthorized: false,
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  const accepted = once(srv, 'secureConnection') as Promise<[tls.TLSSocket]>;
  const client = tls.connect({
    ...tlsOptions(ids[0]!),
    host: '127.0.0.1',
    port,
    rejectUnauthorized: false,
  });
  await once(client, 'secureConnect');
  const [server] = await accepted;
  for (const s of [client, server]) {
    s.setNoDelay(true); // as the transport's links do
    s.on('error', () => {});
  }
  return {
    client,
    server,
    close: async () => {
      client.destroy();
      server.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

/** Writes `totalBytes` in writes of `writeBytes`, respecting write() / 'drain'. */
export async function bareThroughput(
  pair: BarePair,
  totalBytes: number,
  writeBytes = MESSAGE_BYTES,
): Promise<ThroughputRun> {
  const { client, server } = pair;
  const chunk = Buffer.alloc(writeBytes, 0xa5);
  const done = new Promise<void>((resolve) => {
    let received = 0;
    const onData = (d: Buffer) => {
      received += d.length;
      if (received >= totalBytes) {
        server.off('data', onData);
        resolve();
      }
    };
    server.on('data', onData);
    server.resume();
  });
  const stop = startRun(totalBytes);
  for (let sent = 0; sent < totalBytes; sent += writeBytes) {
    if (!client.write(chunk)) await once(client, 'drain');
  }
  await done;
  return stop();
}

/**
 * One-way latency of 100-byte writes on a bare socket. With `backlogBytes`, every small write
 * is queued behind that many bytes of earlier 1 MiB writes (kept topped up: each flushed write
 * is replaced), which is what a sender without a scheduler does with a big transfer.
 * The stream is framed [u32 length][u8 kind] so the receiver can find the small messages.
 */
export async function bareLatency(
  pair: BarePair,
  samples: number,
  backlogBytes: number,
): Promise<number[]> {
  const { client, server } = pair;
  const KIND_BULK = 2;
  const KIND_SMALL = 1;
  const bulk = Buffer.alloc(5 + MESSAGE_BYTES, 0x5a);
  bulk.writeUInt32BE(MESSAGE_BYTES, 0);
  bulk[4] = KIND_BULK;

  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let bulkWritten = 0;
  let bulkReceived = 0;
  let allArrived: () => void = () => {};
  const arrivedAll = new Promise<void>((resolve) => {
    allArrived = resolve;
  });

  // Receiver: a tiny parser of the [len][kind][payload] stream.
  const header = Buffer.alloc(5);
  let headerFill = 0;
  let remaining = 0;
  let kind = 0;
  let small: Buffer[] = [];
  const onData = (d: Buffer) => {
    const now = performance.now();
    let off = 0;
    while (off < d.length) {
      if (remaining === 0) {
        const n = Math.min(5 - headerFill, d.length - off);
        d.copy(header, headerFill, off, off + n);
        headerFill += n;
        off += n;
        if (headerFill === 5) {
          headerFill = 0;
          remaining = header.readUInt32BE(0);
          kind = header[4]!;
          small = [];
        }
      } else {
        const n = Math.min(remaining, d.length - off);
        if (kind === KIND_SMALL) small.push(d.subarray(off, off + n));
        else bulkReceived += n;
        remaining -= n;
        off += n;
        if (remaining === 0 && kind === KIND_SMALL) {
          const id = Buffer.concat(small).readUInt32BE(0);
          latencies.push(now - sentAt.get(id)!);
          if (latencies.length === samples) allArrived();
        }
      }
    }
  };
  server.on('data', onData);
  server.resume();

  let running = backlogBytes > 0;
  const topUp = () => {
    if (!running) return;
    bulkWritten += MESSAGE_BYTES;
    client.write(bulk, topUp);
  };
  if (running) {
    for (let i = 0; i < backlogBytes / MESSAGE_BYTES; i++) topUp();
    // Let the backlog be flushing at its steady rate before sampling.
    await sleep(200);
  }

  for (let i = 0; i < samples; i++) {
    const msg = Buffer.alloc(5 + SMALL_BYTES);
    msg.writeUInt32BE(SMALL_BYTES, 0);
    msg[4] = KIND_SMALL;
    msg.writeUInt32BE(i, 5);
    sentAt.set(i, performance.now());
    client.write(msg);
    if (running) await sleep(5 + Math.random() * 5);
    else {
      while (latencies.length <= i) await sleep(0);
      await sleep(1 + Math.random() * 2);
    }
  }
  await arrivedAll;
  running = false;
  while (bulkReceived < bulkWritten) await sleep(5);
  server.off('data', onData);
  return latencies;
}
