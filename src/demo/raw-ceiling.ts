/**
 * The raw ceiling of a large-artifact run: the time to send `size` bytes from one origin to
 * each of `receivers` nodes through plain TLS 1.3 sockets (a star, no protocol), measured in the
 * same run as the broadcast.
 *
 * - {@link rawTlsCeilingMs}, on 127.0.0.1: the receivers run in one worker thread, the origin in
 *   the calling thread, so the crypto of both sides runs in parallel as it does among the demo's
 *   node threads.
 * - {@link rawTlsStarMs}, where the nodes were placed (node-host.ts, NodePlacement): the origin
 *   and each receiver are small processes of their own, run under the placements' command
 *   prefixes (e.g. in the nodes' network namespaces) and listening on their hosts, so the bytes
 *   take the links the broadcast took.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { connect } from 'node:tls';
import { Worker } from 'node:worker_threads';
import type { NodeIdentity } from '../identity/index.ts';
import { type Deferred, deferred } from './deferred.ts';
import { type NodePlacement, superviseChild } from './node-host.ts';

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

/**
 * A receiver process of {@link rawTlsStarMs}. It gets {key, cert, host, size} as its first IPC
 * message, listens on `host` (port chosen by the OS) and posts `listening`, then `done` with the
 * time (shared clock) once one connection brought `size` bytes. It exits when the IPC channel
 * closes.
 */
const STAR_RECEIVER_JS = `
const tls = require('node:tls');
const now = () => performance.timeOrigin + performance.now();
process.on('disconnect', () => process.exit(0));
process.once('message', ({ key, cert, host, size }) => {
  const server = tls.createServer({ key, cert, minVersion: 'TLSv1.3' }, (socket) => {
    let got = 0;
    socket.on('data', (d) => {
      got += d.length;
      if (got >= size) {
        const at = now();
        socket.end();
        server.close();
        process.send({ type: 'done', at });
      }
    });
    socket.on('error', (err) => process.send({ type: 'error', message: err.message }));
  });
  server.on('error', (err) => process.send({ type: 'error', message: err.message }));
  server.listen(0, host, () => process.send({ type: 'listening', port: server.address().port }));
});
`;

/**
 * The origin process of {@link rawTlsStarMs}. It gets {targets: [{host, port}], size} as its
 * first IPC message, posts `started` with the time (shared clock), connects to every target at
 * once and writes `size` random bytes (one 1 MiB block, repeated) to each, then posts `sent`.
 */
const STAR_ORIGIN_JS = `
const tls = require('node:tls');
const { randomFillSync } = require('node:crypto');
const now = () => performance.timeOrigin + performance.now();
process.on('disconnect', () => process.exit(0));
process.once('message', ({ targets, size }) => {
  const block = randomFillSync(Buffer.allocUnsafe(1024 * 1024));
  let left = targets.length;
  process.send({ type: 'started', at: now() });
  for (const { host, port } of targets) {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => {
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
        if (--left === 0) process.send({ type: 'sent' });
      };
      pump();
    });
    socket.on('error', (err) => process.send({ type: 'error', message: host + ':' + port + ': ' + err.message }));
  }
});
`;

type StarMessage =
  | { type: 'listening'; port: number }
  | { type: 'done'; at: number }
  | { type: 'started'; at: number }
  | { type: 'sent' }
  | { type: 'error'; message: string };

/** One helper process of the star: its messages, by type, as they come. */
class StarProcess {
  readonly child: ChildProcess;
  readonly #waiting = new Map<string, Deferred<StarMessage>>();
  readonly exited = deferred();
  #failure: string | undefined;

  constructor(
    readonly name: string,
    script: string,
    placement: NodePlacement,
  ) {
    const argv = [process.execPath, '-e', script];
    const [command, ...args] = [...(placement.commandPrefix ?? []), ...argv] as [
      string,
      ...string[],
    ];
    let stderr = '';
    this.child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    superviseChild(this.child);
    this.child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2048);
    });
    this.child.on('message', (m: StarMessage) => {
      if (m.type === 'error') this.#fail(m.message);
      else this.#slot(m.type).resolve(m);
    });
    this.child.on('error', (err) => this.#fail(err.message));
    this.child.on('close', (code, signal) => {
      this.exited.resolve();
      this.#fail(`exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`);
    });
  }

  #slot(type: string): Deferred<StarMessage> {
    let d = this.#waiting.get(type);
    if (d === undefined) {
      d = deferred<StarMessage>();
      d.promise.catch(() => undefined);
      this.#waiting.set(type, d);
    }
    return d;
  }

  /** Rejects whatever is awaited of it, if nothing failed before. */
  #fail(message: string): void {
    if (this.#failure !== undefined) return;
    this.#failure = `raw ceiling ${this.name}: ${message}`;
    for (const type of ['listening', 'done', 'started', 'sent']) {
      this.#slot(type).reject(new Error(this.#failure));
    }
  }

  abort(reason: string): void {
    this.#fail(reason);
  }

  /** Resolves with the first message of `type`; rejects if the process fails first. */
  next<T extends StarMessage['type']>(type: T): Promise<Extract<StarMessage, { type: T }>> {
    return this.#slot(type).promise as Promise<Extract<StarMessage, { type: T }>>;
  }

  send(message: object): void {
    if (this.child.connected) this.child.send(message, undefined, undefined, () => undefined);
  }

  async kill(): Promise<void> {
    if (this.child.pid === undefined) return;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited.promise;
  }
}

/**
 * Sends `size` bytes from `origin` to each of `receivers` at once, through plain TLS 1.3, each
 * a process of its own placed as its placement says (listening on its `listenHost`, default
 * 127.0.0.1); resolves with the ms from the origin's start (before its first connect) until
 * the last receiver had every byte. Every process is gone when it settles; `signal` aborts it
 * (it then rejects).
 */
export async function rawTlsStarMs(
  identity: NodeIdentity,
  size: number,
  origin: NodePlacement,
  receivers: readonly NodePlacement[],
  signal?: AbortSignal,
): Promise<number> {
  signal?.throwIfAborted();
  const procs = receivers.map((p, i) => new StarProcess(`receiver ${i + 1}`, STAR_RECEIVER_JS, p));
  const abort = () => {
    for (const p of procs) p.abort('aborted');
  };
  signal?.addEventListener('abort', abort);
  try {
    const hosts = receivers.map((p) => p.listenHost ?? '127.0.0.1');
    procs.forEach((p, i) => {
      p.send({ key: identity.privateKeyPem, cert: identity.certificatePem, host: hosts[i], size });
    });
    const ports = await Promise.all(procs.map((p) => p.next('listening')));
    signal?.throwIfAborted();
    const sender = new StarProcess('origin', STAR_ORIGIN_JS, origin);
    procs.push(sender);
    sender.send({ targets: ports.map((m, i) => ({ host: hosts[i], port: m.port })), size });
    const [started, done] = await Promise.all([
      sender.next('started'),
      Promise.all(procs.slice(0, -1).map((p) => p.next('done'))),
      sender.next('sent'),
    ]);
    return Math.max(...done.map((d) => d.at)) - started.at;
  } finally {
    signal?.removeEventListener('abort', abort);
    await Promise.all(procs.map((p) => p.kill()));
  }
}
