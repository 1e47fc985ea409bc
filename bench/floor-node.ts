/**
 * The nodes of bench:large-floor: a protocol-free swarm (or star) of worker threads moving one
 * artifact of 1 MiB chunks through plain TLS 1.3, doing only the work that any verifying,
 * storing broadcast must do. The code the threads run is plain JavaScript (a string, as in
 * src/demo/raw-ceiling.ts), so nothing of subnet-p2p's runs: what it measures is the machine.
 *
 * Every node listens on 127.0.0.1 and the node with the lower index dials, so every pair of
 * nodes shares one TLS connection (a full mesh, as the demo's). A message is
 * [u32 chunk index][u32 length][bytes]. Node 0 is the origin.
 *
 * - `star`: the origin writes every chunk to every other node (the raw ceiling's work, but with
 *   one thread per receiving node, as the demo's nodes are).
 * - `relay`: the origin writes chunk k to one owner (node 1 + k mod (n - 1)); the owner writes it
 *   to every other node. Each node receives every chunk once; the origin uploads one copy.
 * - `verify`: relay, and every node computes the SHA-256 of every chunk it receives.
 * - `keep`: verify, and every node keeps every chunk it received in memory (as an in-memory
 *   chunk store would: the received bytes themselves, no copy) until the run ends.
 * - `store`: verify, and every node writes every chunk at its offset in a file of its own
 *   (positional writes, page cache, no fsync) and an owner relays the chunk as read back from
 *   its file, as a chunk store does.
 * @module
 */
import { Worker } from 'node:worker_threads';

export type FloorMode = 'star' | 'relay' | 'verify' | 'keep' | 'store';
export const FLOOR_MODES: readonly FloorMode[] = ['star', 'relay', 'verify', 'keep', 'store'];

const FLOOR_NODE_JS = `
const { parentPort, workerData } = require('node:worker_threads');
const tls = require('node:tls');
const fs = require('node:fs');
const { createHash, randomFillSync } = require('node:crypto');
const { index, nodes, chunks, chunkBytes, mode, key, cert, dir } = workerData;
const HIGH_WATER = 8 * chunkBytes;
const links = new Map();
const held = new Uint8Array(chunks);
let got = 0;
const kept = [];
const fd = mode === 'store' ? fs.openSync(dir + '/node-' + index, 'w+') : -1;

function send(socket, k, bytes) {
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32BE(k, 0);
  head.writeUInt32BE(bytes.length, 4);
  socket.cork();
  socket.write(head);
  socket.write(bytes);
  socket.uncork();
}

function received(from, k, bytes) {
  if (held[k]) return;
  held[k] = 1;
  got += 1;
  if (mode !== 'star' && mode !== 'relay') createHash('sha256').update(bytes).digest();
  let out = bytes;
  if (mode === 'keep') kept.push(bytes);
  if (fd >= 0) {
    fs.writeSync(fd, bytes, 0, bytes.length, k * chunkBytes);
    if (from === 0) {
      out = Buffer.allocUnsafe(bytes.length);
      fs.readSync(fd, out, 0, out.length, k * chunkBytes);
    }
  }
  if (mode !== 'star' && from === 0) {
    for (const [peer, socket] of links) if (peer !== 0) send(socket, k, out);
  }
  if (got === chunks) parentPort.postMessage({ type: 'done' });
}

function attach(socket, peer) {
  links.set(peer, socket);
  let pieces = [];
  let have = 0;
  let need = -1;
  let k = 0;
  socket.on('data', (d) => {
    pieces.push(d);
    have += d.length;
    for (;;) {
      if (need < 0) {
        if (have < 8) return;
        const all = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, have);
        k = all.readUInt32BE(0);
        need = all.readUInt32BE(4);
        pieces = [all.subarray(8)];
        have -= 8;
      }
      if (have < need) return;
      const all = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, have);
      const rest = all.subarray(need);
      const bytes = all.subarray(0, need);
      pieces = rest.length > 0 ? [rest] : [];
      have = rest.length;
      need = -1;
      received(peer, k, bytes);
    }
  });
  if (links.size === nodes - 1) parentPort.postMessage({ type: 'linked' });
}

const server = tls.createServer({ key, cert, minVersion: 'TLSv1.3' }, (socket) => {
  socket.once('data', (d) => {
    attach(socket, d.readUInt32BE(0));
    if (d.length > 4) socket.emit('data', d.subarray(4));
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'port', port: server.address().port }));

async function originate() {
  const block = randomFillSync(Buffer.allocUnsafe(chunkBytes));
  const drained = (socket) =>
    socket.writableLength > HIGH_WATER ? new Promise((r) => socket.once('drain', r)) : undefined;
  for (let k = 0; k < chunks; k++) {
    block.writeUInt32BE(k, 0);
    const bytes = Buffer.from(block);
    if (fd >= 0) fs.writeSync(fd, bytes, 0, bytes.length, k * chunkBytes);
    if (mode === 'star') {
      for (const socket of links.values()) send(socket, k, bytes);
      await Promise.all([...links.values()].map(drained));
    } else {
      const socket = links.get(1 + (k % (nodes - 1)));
      send(socket, k, bytes);
      await drained(socket);
    }
  }
}

parentPort.on('message', (m) => {
  if (m.type === 'dial') {
    for (let peer = index + 1; peer < nodes; peer++) {
      const socket = tls.connect({ host: '127.0.0.1', port: m.ports[peer], rejectUnauthorized: false });
      const hello = Buffer.allocUnsafe(4);
      hello.writeUInt32BE(index, 0);
      socket.write(hello);
      attach(socket, peer);
    }
  } else if (m.type === 'go' && index === 0) {
    originate().catch((err) => parentPort.postMessage({ type: 'error', message: String(err) }));
  }
});
`;

type FromFloorNode =
  | { type: 'port'; port: number }
  | { type: 'linked' }
  | { type: 'done' }
  | { type: 'error'; message: string };

export interface FloorRunOptions {
  mode: FloorMode;
  nodes: number;
  chunks: number;
  chunkBytes: number;
  key: string;
  cert: string;
  /** A directory for the `store` mode's files (one per node). */
  dir: string;
}

/**
 * Runs one floor transfer with `nodes` worker threads; resolves with the ms from the origin's
 * start until every other node held every chunk. The threads are gone when it settles.
 */
export async function floorRunMs(opts: FloorRunOptions): Promise<number> {
  const workers = Array.from(
    { length: opts.nodes },
    (_, index) =>
      new Worker(FLOOR_NODE_JS, {
        eval: true,
        workerData: { ...opts, index },
      }),
  );
  const failed = new Promise<never>((_, reject) => {
    for (const w of workers) {
      w.on('error', reject);
      w.on('message', (m: FromFloorNode) => {
        if (m.type === 'error') reject(new Error(`floor node: ${m.message}`));
      });
    }
  });
  failed.catch(() => undefined);
  /** The next message of `type` from `w` (rejects if any thread fails first). */
  const next = <T extends FromFloorNode['type']>(w: Worker, type: T) =>
    Promise.race([
      failed,
      new Promise<Extract<FromFloorNode, { type: T }>>((resolve) => {
        const on = (m: FromFloorNode) => {
          if (m.type !== type) return;
          w.off('message', on);
          resolve(m as Extract<FromFloorNode, { type: T }>);
        };
        w.on('message', on);
      }),
    ]);
  try {
    const ports = (await Promise.all(workers.map((w) => next(w, 'port')))).map((m) => m.port);
    const linked = Promise.all(workers.map((w) => next(w, 'linked')));
    for (const w of workers) w.postMessage({ type: 'dial', ports });
    await linked;
    const done = Promise.all(workers.slice(1).map((w) => next(w, 'done')));
    const started = performance.now();
    workers[0]!.postMessage({ type: 'go' });
    await done;
    return performance.now() - started;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
