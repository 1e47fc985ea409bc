/**
 * The raw ceiling of a large-artifact run: the time to send `size` bytes from one origin to
 * each of `receivers` nodes through plain TLS 1.3 sockets on 127.0.0.1 (a star, no protocol),
 * measured in the same run as the broadcast. The receivers run in one worker thread, the
 * origin in the calling thread, so the crypto of both sides runs in parallel as it does among
 * the demo's node threads.
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { connect } from 'node:tls';
import { Worker } from 'node:worker_threads';
import type { NodeIdentity } from '../identity/index.ts';

const RECEIVERS_JS = `
const { parentPort, workerData } = require('node:worker_threads');
const tls = require('node:tls');
const { key, cert, receivers, size } = workerData;
let left = receivers;
const ports = [];
let listening = 0;
for (let i = 0; i < receivers; i++) {
  let got = 0;
  const server = tls.createServer({ key, cert, minVersion: 'TLSv1.3' }, (socket) => {
    socket.on('data', (d) => {
      got += d.length;
      if (got >= size) {
        socket.end();
        server.close();
        if (--left === 0) parentPort.postMessage({ type: 'done' });
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    ports[i] = server.address().port;
    if (++listening === receivers) parentPort.postMessage({ type: 'ports', ports });
  });
}
`;

/** Sends `size` bytes to each of `receivers` TLS sockets at once; resolves with the ms taken. */
export async function rawTlsCeilingMs(
  identity: NodeIdentity,
  receivers: number,
  size: number,
): Promise<number> {
  const worker = new Worker(RECEIVERS_JS, {
    eval: true,
    workerData: { key: identity.privateKeyPem, cert: identity.certificatePem, receivers, size },
  });
  try {
    const ports = await new Promise<number[]>((resolve, reject) => {
      worker.once('message', (m: { ports: number[] }) => resolve(m.ports));
      worker.once('error', reject);
    });
    const done = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    const block = Buffer.allocUnsafe(1024 * 1024);
    randomFillSync(block);
    const started = performance.now();
    await Promise.all(
      ports.map(
        (port) =>
          new Promise<void>((resolve, reject) => {
            const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
              let sent = 0;
              const pump = () => {
                while (sent < size) {
                  const n = Math.min(block.length, size - sent);
                  sent += n;
                  if (!socket.write(n === block.length ? block : block.subarray(0, n))) {
                    socket.once('drain', pump);
                    return;
                  }
                }
                resolve();
              };
              pump();
            });
            socket.on('error', reject);
            socket.on('close', () => resolve());
          }),
      ),
    );
    await done;
    return performance.now() - started;
  } finally {
    await worker.terminate();
  }
}
